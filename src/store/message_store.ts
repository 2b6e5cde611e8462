/**
 * Stores message records and their bodies. A body small enough stays inside
 * its record; a larger one is split into chunks of at most 64 KiB.
 *
 * Up to {@linkcode CHUNKS_WITH_RECORD} chunks (256 KiB) are written in the
 * same atomic operation as the record. A larger body (up to 4 MiB, 64
 * chunks) cannot share one commit with anything: Deno KV takes at most
 * 800 KiB per commit. It is staged first, {@linkcode CHUNKS_PER_COMMIT}
 * chunks per commit, under an upload entry `["upload", messageId]` that the
 * first staging commit writes; the record's own commit checks that entry and
 * deletes it. So the message exists (and becomes visible) only with the last
 * commit, and chunks whose message never committed (the client went away,
 * the process died between two commits, the record's commit lost) are found
 * by their upload entry and deleted by {@linkcode discardUpload}, in one
 * commit checked against that entry: a collector and the record's commit
 * can never both win.
 *
 * @module
 */
import type { EncodedBody } from "../domain/body.ts";
import type { MessageRecord } from "../domain/message.ts";
import { commit } from "./commit.ts";
import { keys } from "./keys.ts";
import type { Writes } from "./write_set.ts";

/** Bodies up to this size are kept inside the message record. */
export const INLINE_BODY_LIMIT = 40 * 1024;
/** Size of one stored body chunk: Deno KV's value limit for bytes. */
export const BODY_CHUNK_SIZE = 64 * 1024;
/** Most chunks written in the commit of the record itself (256 KiB of body). */
export const CHUNKS_WITH_RECORD = 4;
/**
 * Most chunks per staging commit: 640 KiB, inside the group committer's
 * 700 KiB budget and Deno KV's 800 KiB per commit.
 */
export const CHUNKS_PER_COMMIT = 10;

/** A record without the body fields, which {@linkcode writeMessage} fills in. */
export type MessageFields = Omit<
  MessageRecord,
  "bodyEncoding" | "inlineBody" | "bodyChunks" | "bodySize"
>;

/** What `["upload", messageId]` holds while a large body is staged. */
export interface UploadRecord {
  readonly messageId: string;
  readonly chunks: number;
  readonly size: number;
  /** When the first staging commit was made (epoch ms). */
  readonly startedAt: number;
}

/** A body whose chunks are all stored; its message's commit must check `upload`. */
export interface StagedBody {
  readonly messageId: string;
  readonly chunks: number;
  /** The upload entry as the first staging commit wrote it. */
  readonly upload: Deno.AtomicCheck;
}

/** Options of {@linkcode stageBody}. */
export interface StageOptions {
  /** Current time in epoch ms, stored as the upload's start. @default {Date.now} */
  readonly clock?: () => number;
  /**
   * Adds to the first staging commit what collects the upload if its
   * message never commits (a durable job). @default {nothing}
   */
  readonly armCollector?: (op: Writes) => void;
  /** Called after each staging commit with the chunks stored so far (tests stop here). @default {nothing} */
  readonly afterCommit?: (stored: number, total: number) => void | Promise<void>;
}

function chunkCount(body: EncodedBody): number {
  return body.bytes.length <= INLINE_BODY_LIMIT
    ? 0
    : Math.ceil(body.bytes.length / BODY_CHUNK_SIZE);
}

/**
 * Whether `body` is too large to share its record's commit and must be
 * staged with {@linkcode stageBody} first.
 *
 * @example
 * ```ts
 * import { needsStaging } from "./message_store.ts";
 * needsStaging({ encoding: "bytes", bytes: new Uint8Array(1024 * 1024) }); // true
 * ```
 */
export function needsStaging(body: EncodedBody): boolean {
  return chunkCount(body) > CHUNKS_WITH_RECORD;
}

/**
 * Stores the chunks of a large body in commits of at most
 * {@linkcode CHUNKS_PER_COMMIT} chunks, the first one with its upload entry
 * (and what `armCollector` adds). Nothing is visible yet: no record names
 * the chunks until {@linkcode writeMessage} commits with the returned value.
 *
 * @example
 * ```ts
 * import { stageBody, writeMessage } from "./message_store.ts";
 * using kv = await Deno.openKv(":memory:");
 * const body = { encoding: "bytes" as const, bytes: new Uint8Array(1024 * 1024) };
 * const staged = await stageBody(kv, "m1", body);
 * const op = kv.atomic();
 * writeMessage(op, { messageId: "m1", topic: "T", keys: [], properties: {}, storedAt: 0 }, body, staged);
 * await op.commit();
 * ```
 */
export async function stageBody(
  kv: Deno.Kv,
  messageId: string,
  body: EncodedBody,
  options: StageOptions = {},
): Promise<StagedBody> {
  const total = chunkCount(body);
  if (total <= CHUNKS_WITH_RECORD) {
    throw new RangeError(
      `Cannot stage body of ${messageId}: it has ${total} chunks, it goes with its record`,
    );
  }
  const upload: UploadRecord = {
    messageId,
    chunks: total,
    size: body.bytes.length,
    startedAt: (options.clock ?? Date.now)(),
  };
  let check: Deno.AtomicCheck | undefined;
  for (let from = 0; from < total; from += CHUNKS_PER_COMMIT) {
    const op = kv.atomic();
    if (from === 0) {
      op.check({ key: keys.upload(messageId), versionstamp: null }).set(
        keys.upload(messageId),
        upload,
      );
      options.armCollector?.(op);
    }
    writeChunks(op, messageId, body.bytes, from, Math.min(total, from + CHUNKS_PER_COMMIT));
    const result = await commit(op);
    if (!result.ok) {
      throw new TypeError(`Cannot stage body of ${messageId}: an upload of that id exists`);
    }
    if (from === 0) check = { key: keys.upload(messageId), versionstamp: result.versionstamp };
    await options.afterCommit?.(Math.min(total, from + CHUNKS_PER_COMMIT), total);
  }
  return { messageId, chunks: total, upload: check! };
}

function writeChunks(op: Writes, messageId: string, bytes: Uint8Array, from: number, to: number) {
  for (let i = from; i < to; i++) {
    op.set(
      keys.bodyChunk(messageId, i),
      bytes.subarray(i * BODY_CHUNK_SIZE, (i + 1) * BODY_CHUNK_SIZE),
    );
  }
}

/**
 * Adds the writes of a message and its body to `op`; returns the record.
 * A body that {@linkcode needsStaging} must come with what
 * {@linkcode stageBody} returned for it: the commit then checks the upload
 * entry (it fails if the upload was collected) and deletes it.
 *
 * @example
 * ```ts
 * import { writeMessage } from "./message_store.ts";
 * using kv = await Deno.openKv(":memory:");
 * const op = kv.atomic();
 * writeMessage(op, { messageId: "m1", topic: "T", keys: [], properties: {}, storedAt: 0 },
 *   { encoding: "none", bytes: new Uint8Array() });
 * await op.commit();
 * ```
 */
export function writeMessage(
  op: Writes,
  fields: MessageFields,
  body: EncodedBody,
  staged?: StagedBody,
): MessageRecord {
  const chunks = chunkCount(body);
  const record: MessageRecord = {
    ...fields,
    bodyEncoding: body.encoding,
    bodySize: body.bytes.length,
    bodyChunks: chunks,
    ...(chunks === 0 ? { inlineBody: body.bytes } : {}),
  };
  if (chunks > CHUNKS_WITH_RECORD) {
    if (staged?.messageId !== fields.messageId || staged.chunks !== chunks) {
      throw new TypeError(
        `Cannot write message ${fields.messageId}: its ${chunks} body chunks were not staged for it`,
      );
    }
    op.check(staged.upload).delete(staged.upload.key);
  } else {
    writeChunks(op, fields.messageId, body.bytes, 0, chunks);
  }
  op.set(keys.message(fields.messageId), record);
  return record;
}

/**
 * Whether the upload of `staged` is still waiting for its message (not
 * collected, not committed).
 *
 * @example
 * ```ts
 * import { isStaged } from "./message_store.ts";
 * declare const kv: Deno.Kv;
 * declare const staged: import("./message_store.ts").StagedBody;
 * if (!(await isStaged(kv, staged))) console.log("collected: stage it again");
 * ```
 */
export async function isStaged(kv: Deno.Kv, staged: StagedBody): Promise<boolean> {
  const entry = await kv.get(staged.upload.key);
  return entry.versionstamp === staged.upload.versionstamp;
}

/**
 * Deletes the chunks of an upload whose message did not commit, with its
 * upload entry, in one commit checked against that entry (so never the
 * chunks of a message that committed); returns whether it deleted anything.
 * With `staged`, only that very upload is discarded.
 *
 * @example
 * ```ts
 * import { discardUpload } from "./message_store.ts";
 * using kv = await Deno.openKv(":memory:");
 * console.log(await discardUpload(kv, "m1")); // false: no upload
 * ```
 */
export async function discardUpload(
  kv: Deno.Kv,
  messageId: string,
  staged?: StagedBody,
): Promise<boolean> {
  const entry = await kv.get<UploadRecord>(keys.upload(messageId));
  if (entry.value === null) return false;
  if (staged && entry.versionstamp !== staged.upload.versionstamp) return false;
  const op = kv.atomic().check(entry).delete(entry.key);
  for (let i = 0; i < entry.value.chunks; i++) op.delete(keys.bodyChunk(messageId, i));
  return (await commit(op)).ok;
}

/**
 * Reads a message record, or undefined when there is none.
 *
 * @example
 * ```ts
 * import { readMessage } from "./message_store.ts";
 * using kv = await Deno.openKv(":memory:");
 * console.log(await readMessage(kv, "missing")); // undefined
 * ```
 */
export async function readMessage(
  kv: Deno.Kv,
  messageId: string,
): Promise<MessageRecord | undefined> {
  const entry = await kv.get<MessageRecord>(keys.message(messageId));
  return entry.value ?? undefined;
}

/**
 * Reads the body bytes of a record, from the record or its chunks.
 *
 * @throws {TypeError} when the stored chunks do not add up to the record's body size.
 *
 * @example
 * ```ts
 * import { readBody, readMessage } from "./message_store.ts";
 * using kv = await Deno.openKv(":memory:");
 * const record = await readMessage(kv, "m1");
 * if (record) console.log((await readBody(kv, record)).length);
 * ```
 */
export async function readBody(kv: Deno.Kv, record: MessageRecord): Promise<Uint8Array> {
  if (record.inlineBody) return record.inlineBody;
  if (record.bodyChunks === 0) return new Uint8Array();
  const bytes = new Uint8Array(record.bodySize);
  let offset = 0;
  let count = 0;
  for await (const entry of kv.list<Uint8Array>({ prefix: keys.bodyChunks(record.messageId) })) {
    if (offset + entry.value.length > bytes.length) break;
    bytes.set(entry.value, offset);
    offset += entry.value.length;
    count++;
  }
  if (offset !== record.bodySize || count !== record.bodyChunks) {
    throw new TypeError(
      `Cannot read body of ${record.messageId}: ${count} chunks of ${offset} bytes stored, the record says ${record.bodyChunks} of ${record.bodySize}`,
    );
  }
  return bytes;
}
