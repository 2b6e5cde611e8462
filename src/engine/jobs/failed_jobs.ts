/**
 * Listing stored jobs page by page: pending ones (waiting, or leased by a
 * runner) in due order, and failed ones (attempts spent) by id. Pages are
 * joined by an opaque cursor that names the last job of the page; a cursor
 * that this module did not write, or wrote for the other state, is refused
 * with a {@linkcode ValidationError} rather than handed to KV.
 *
 * @module
 */
import { decodeBase64Url, encodeBase64Url } from "@std/encoding/base64url";
import { ValidationError } from "../../domain/errors.ts";
import { keys } from "../../store/keys.ts";
import type { FailedJob, Job, StoredJob } from "./jobs.ts";

/** Which stored jobs to list. */
export type JobState = "pending" | "failed";

/** Most jobs on one page. */
export const MAX_JOB_PAGE = 1000;

/** Jobs on one page unless asked otherwise. */
export const DEFAULT_JOB_PAGE = 100;

/** One job as listed. */
export interface JobListing {
  readonly id: string;
  readonly job: Job;
  /** How many times a scheduler has started it. */
  readonly runs: number;
  /** What its last failed run threw. */
  readonly lastError?: string;
  /** Pending jobs: when it runs (or, while leased, when its lease ends), epoch ms. */
  readonly dueAt?: number;
  /** Failed jobs: when it became failed, epoch ms. */
  readonly failedAt?: number;
}

/** A page of jobs; `cursor` is there when more may follow. */
export interface JobPage {
  readonly jobs: JobListing[];
  readonly cursor?: string;
}

/** Options of {@linkcode listJobs}. */
export interface ListJobsOptions {
  /** Which jobs. @default {"pending"} */
  state?: JobState;
  /** Most jobs on the page, 1 to {@linkcode MAX_JOB_PAGE}. @default {100} */
  limit?: number;
  /** The `cursor` of the previous page. @default {undefined} (the first page) */
  cursor?: string;
}

/** What a cursor holds: the state it pages and the key of the last job listed, past the prefix. */
interface CursorData {
  readonly s: JobState;
  readonly k: readonly [number, string] | readonly [string];
}

const MAX_ID_LENGTH = 128;

function encodeCursor(data: CursorData): string {
  return encodeBase64Url(new TextEncoder().encode(JSON.stringify(data)));
}

function badCursor(): ValidationError {
  return new ValidationError("Cannot list jobs: cursor is not one this listing gave out", {
    issues: [{ path: "query.cursor", message: "not a cursor of this listing" }],
  });
}

const isId = (value: unknown): value is string =>
  typeof value === "string" && value.length > 0 && value.length <= MAX_ID_LENGTH;

/** Reads a cursor back, or throws {@linkcode ValidationError} for anything else. */
function decodeCursor(cursor: string, state: JobState): CursorData["k"] {
  let data: unknown;
  try {
    data = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(decodeBase64Url(cursor)));
  } catch {
    throw badCursor();
  }
  if (typeof data !== "object" || data === null) throw badCursor();
  const { s, k } = data as { s?: unknown; k?: unknown };
  if (s !== state || !Array.isArray(k)) throw badCursor();
  if (state === "failed" && k.length === 1 && isId(k[0])) return [k[0]];
  if (state === "pending" && k.length === 2 && Number.isFinite(k[0]) && isId(k[1])) {
    return [k[0] as number, k[1]];
  }
  throw badCursor();
}

function sameKey(a: Deno.KvKey, b: Deno.KvKey): boolean {
  return a.length === b.length && a.every((part, i) => part === b[i]);
}

/**
 * Lists one page of pending or failed jobs.
 *
 * @param kv The broker's KV.
 * @param options Which jobs, how many, and where the previous page ended.
 * @returns The jobs, and a cursor when more may follow.
 * @throws {ValidationError} for a limit out of range or a cursor this function did not give out.
 *
 * @example Paging through failed jobs
 * ```ts
 * import { listJobs } from "./failed_jobs.ts";
 * using kv = await Deno.openKv(":memory:");
 * let page = await listJobs(kv, { state: "failed", limit: 50 });
 * while (page.cursor !== undefined) {
 *   page = await listJobs(kv, { state: "failed", limit: 50, cursor: page.cursor });
 * }
 * ```
 */
export async function listJobs(kv: Deno.Kv, options: ListJobsOptions = {}): Promise<JobPage> {
  const state = options.state ?? "pending";
  const limit = options.limit ?? DEFAULT_JOB_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_JOB_PAGE) {
    throw new ValidationError(
      `Cannot list jobs: limit must be an integer from 1 to ${MAX_JOB_PAGE}, current value is ${limit}`,
    );
  }
  const prefix = state === "pending" ? keys.jobs() : keys.failedJobs();
  const after = options.cursor === undefined
    ? undefined
    : [...prefix, ...decodeCursor(options.cursor, state)];
  // `start` is inclusive: read one more than the page, past the cursor's own key.
  const selector = after === undefined ? { prefix } : { prefix, start: after };
  const entries: Deno.KvEntry<StoredJob | FailedJob>[] = [];
  for await (
    const entry of kv.list<StoredJob | FailedJob>(selector, { limit: limit + 2 })
  ) {
    if (after !== undefined && sameKey(entry.key, after)) continue;
    entries.push(entry);
    if (entries.length > limit) break;
  }
  const more = entries.length > limit;
  const page = more ? entries.slice(0, limit) : entries;
  const jobs = page.map(({ key, value }): JobListing => {
    const base = {
      id: value.id,
      job: value.job,
      runs: value.runs,
      ...(value.lastError !== undefined ? { lastError: value.lastError } : {}),
    };
    return state === "pending"
      ? { ...base, dueAt: key[1] as number }
      : { ...base, failedAt: (value as FailedJob).failedAt };
  });
  const last = page.at(-1);
  if (!more || last === undefined) return { jobs };
  const k = state === "pending"
    ? [last.key[1] as number, last.key[2] as string] as const
    : [last.key[1] as string] as const;
  return { jobs, cursor: encodeCursor({ s: state, k }) };
}
