/**
 * Large bodies (over 256 KiB, up to 4 MiB) are stored before their message,
 * across several commits (see `src/store/message_store.ts`). This module
 * pairs each such upload with a durable `uploadCollect` job, written in the
 * upload's first commit, that deletes the chunks unless the message
 * committed: an upload the client abandoned, or one a process died in the
 * middle of, is collected after {@linkcode UPLOAD_COLLECT_AFTER_MS} even if
 * nothing else ever looks at it. A publish or prepare that ends without
 * committing its message discards its upload at once.
 *
 * @module
 */
import type { EncodedBody } from "../../domain/body.ts";
import { ContentionError } from "../../domain/errors.ts";
import {
  discardUpload,
  isStaged,
  needsStaging,
  stageBody,
  type StagedBody,
  type StageOptions,
} from "../../store/message_store.ts";
import type { EngineDeps } from "../deps.ts";

/**
 * How long after an upload starts its chunks are collected unless its
 * message committed. Staging 4 MiB takes milliseconds locally and seconds
 * over KV Connect; a message commit later than this fails with a 503.
 */
export const UPLOAD_COLLECT_AFTER_MS = 10 * 60_000;

/**
 * Stages, discards and collects the uploads of large bodies.
 *
 * @example
 * ```ts
 * import { BodyUploads } from "./body_upload.ts";
 * declare const deps: import("../deps.ts").EngineDeps;
 * const uploads = new BodyUploads(deps);
 * const body = { encoding: "bytes" as const, bytes: new Uint8Array(1024 * 1024) };
 * const staged = await uploads.stageIfLarge("m1", body);
 * if (staged) await uploads.discard(staged);
 * ```
 */
export class BodyUploads {
  readonly #deps: EngineDeps;

  /** Creates the uploader over the engine's collaborators. */
  constructor(deps: EngineDeps) {
    this.#deps = deps;
  }

  /**
   * Stages `body` for message `messageId` when it is too large for one
   * commit (with its collector job); returns undefined for a body that goes
   * with its record.
   */
  async stageIfLarge(
    messageId: string,
    body: EncodedBody,
    options: Pick<StageOptions, "afterCommit"> = {},
  ): Promise<StagedBody | undefined> {
    if (!needsStaging(body)) return undefined;
    const { kv, clock, scheduler } = this.#deps;
    return await stageBody(kv, messageId, body, {
      clock,
      armCollector: (op) =>
        scheduler.schedule(
          op,
          { kind: "uploadCollect", messageId },
          clock() + UPLOAD_COLLECT_AFTER_MS,
        ),
      ...options,
    });
  }

  /**
   * After the message's commit failed: throws a 503 when the upload is gone
   * (collected while the commit waited), so the caller does not try again
   * with chunks that no longer exist.
   */
  async requireStaged(staged: StagedBody | undefined, what: string): Promise<void> {
    if (staged && !(await isStaged(this.#deps.kv, staged))) {
      throw new ContentionError(
        `Cannot ${what}: the body's upload was collected before the message committed, send it again`,
      );
    }
  }

  /** Deletes the chunks of an upload whose message did not commit (never throws: the job is the fallback). */
  async discard(staged: StagedBody): Promise<void> {
    try {
      await discardUpload(this.#deps.kv, staged.messageId, staged);
    } catch (error) {
      this.#deps.logger.warn(
        "upload.discardFailed",
        `upload of ${staged.messageId} not discarded, its job will collect it: ${error}`,
        { messageId: staged.messageId },
      );
    }
  }

  /** Runs an `uploadCollect` job: deletes the upload's chunks unless its message committed. */
  async collect(messageId: string): Promise<boolean> {
    const collected = await discardUpload(this.#deps.kv, messageId);
    if (collected) {
      this.#deps.logger.info(
        "upload.collected",
        `upload of ${messageId} collected: its message never committed`,
        { messageId },
      );
    }
    return collected;
  }
}
