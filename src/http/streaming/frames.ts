/**
 * The frames of a consumer stream (`GET /v1/groups/{group}/stream`), one
 * JSON object per WebSocket text message, and their validation. A client
 * sends `credit`, `ack`, `nack`, `visibility` and `stop`; the broker sends
 * `messages`, the answers `acked`, `nacked`, `visibility`, `stopped`, and
 * `error` (a problem-details body) for a frame it refused. The settling
 * frames carry the same fields as the bodies of `POST /ack`, `/nack` and
 * `/visibility`, plus an optional `id` the answer repeats.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";
import { AckBody, NackBody, VisibilityBody } from "../schemas.ts";

/** Most credits a stream may have outstanding (granted and not yet used). */
export const MAX_CREDITS = 4096;

/** Largest frame a client may send, in bytes (4,096 handles of 2 KiB fit). */
export const MAX_FRAME_BYTES = 10 * 1024 * 1024;

const FrameId = z.string().min(1).max(128).optional();

/** A frame a client sends. */
export const ClientFrame = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("credit"),
    n: z.number().int().min(1).max(MAX_CREDITS),
  }).strict(),
  AckBody.extend({ type: z.literal("ack"), id: FrameId }).strict(),
  NackBody.extend({ type: z.literal("nack"), id: FrameId }).strict(),
  VisibilityBody.extend({ type: z.literal("visibility"), id: FrameId }).strict(),
  z.object({ type: z.literal("stop") }).strict(),
]);

/** A frame a client sends, parsed. */
export type ClientFrame = z.infer<typeof ClientFrame>;

/** A refused frame, as the `error` frame carries it: problem details, plus the frame's id. */
export interface FrameProblem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly [extension: string]: unknown;
}

const invalid = (detail: string, issues: { path: string; message: string }[]): FrameProblem => ({
  type: "https://escrow.dev/problems/validation",
  title: "Invalid request",
  status: 400,
  detail,
  issues,
});

/**
 * Parses one text frame; a frame that is not JSON, not an object of a known
 * type or has a bad field is a 400 problem naming the field (`frame.n`).
 *
 * @param text The frame as received.
 * @returns The frame, or the problem to answer with.
 *
 * @example
 * ```ts
 * import { parseFrame } from "./frames.ts";
 * console.log(parseFrame('{"type":"credit","n":64}')); // { type: "credit", n: 64 }
 * console.log("status" in parseFrame('{"type":"credit","n":0}')); // true (a 400 problem)
 * ```
 */
export function parseFrame(text: string): ClientFrame | FrameProblem {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return invalid(`Cannot read frame: it is not JSON (${(error as Error).message})`, [
      { path: "frame", message: "must be a JSON object" },
    ]);
  }
  const result = ClientFrame.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    path: ["frame", ...issue.path.map(String)].join("."),
    message: issue.message,
  }));
  return invalid(issues.map((i) => `${i.path}: ${i.message}`).join("; "), issues);
}
