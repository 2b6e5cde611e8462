/**
 * Dead-letter alerts: when a consumer group with an `alertUrl` dead-letters
 * a message, the commit that files the dead letter also schedules a
 * `deadLetterAlert` job. Each run of the job is one signed POST; a failed
 * call throws, and the scheduler calls again after its back-off until its
 * attempts are spent (then the job is failed and logged). Every call's
 * outcome is appended to the delivery's stream (`DeliveryAlertSent`,
 * `DeliveryAlertFailed`) at the dead letter's head, checked against the
 * dead-letter entry, whose `seq` follows the head in the same commit: so a
 * redrive, which checks that entry too, still appends at the real head.
 *
 * An alert is for one dead letter: the job carries the seq of its
 * `DeliveryDeadLettered` event, and once the stream holds anything but
 * alerts after it (a redrive), the job ends without calling.
 *
 * @module
 */
import { NotFoundError } from "../domain/errors.ts";
import type { DeliveryEvent } from "../domain/events.ts";
import { signedPost } from "../domain/signature.ts";
import { MAX_ANSWER_BYTES } from "../outbound/mod.ts";
import { keys } from "../store/keys.ts";
import { WriteSet } from "../store/write_set.ts";
import { type EngineDeps, MAX_WRITE_ATTEMPTS } from "../engine/deps.ts";
import { readRecords } from "../engine/delivery/received.ts";
import { deadLetterHead, type DeadLetterRecord } from "../engine/delivery/records.ts";
import { appendDelivery } from "../engine/delivery/step.ts";
import type { GroupRecord, Groups } from "../engine/groups/groups.ts";
import type { DeadLetterAlertJob } from "../engine/jobs/jobs.ts";

/** Most of an alert endpoint's answer read before it is dropped. */
export const MAX_ALERT_ANSWER_BYTES = MAX_ANSWER_BYTES;

/** The JSON body of a dead-letter alert. */
export interface DeadLetterAlert {
  readonly type: "deadLetter";
  readonly messageId: string;
  readonly group: string;
  readonly topic: string;
  readonly tag?: string;
  readonly messageGroup?: string;
  /** Attempts the message had before it was dead-lettered. */
  readonly attempts: number;
  readonly lastError: string;
  /** When it was dead-lettered, ISO 8601. */
  readonly deadLetteredAt: string;
  /** This call's number (1 for the first). */
  readonly alertAttempt: number;
}

/** Options of {@linkcode DeadLetterAlerts}. */
export interface DeadLetterAlertsOptions {
  /** Timeout of one alert call, in ms. @default {5000} */
  readonly timeoutMs?: number;
}

/** How one call went. */
type CallOutcome =
  | { readonly ok: true; readonly status: number }
  | { readonly ok: false; readonly error: string; readonly status?: number };

/**
 * The secret that signs a group's alerts: its `alertSecret`, else its push
 * secret, else none (the alert goes unsigned).
 *
 * @example
 * ```ts
 * import { alertSecretOf } from "./dead_letter_alerts.ts";
 * declare const group: import("../engine/groups/groups.ts").GroupRecord;
 * alertSecretOf(group);
 * ```
 */
export function alertSecretOf(group: GroupRecord): string | undefined {
  if (group.alertSecret !== undefined) return group.alertSecret;
  return group.delivery.mode === "push" ? group.delivery.secret : undefined;
}

/**
 * Builds the alert request, signed like a push (`Escrow-Timestamp`,
 * `Escrow-Signature: v1=<hex HMAC-SHA256 of "${timestamp}.${rawBody}">`)
 * when there is a secret; redirects are not followed.
 *
 * @example
 * ```ts
 * import { alertRequest } from "./dead_letter_alerts.ts";
 * const request = await alertRequest("http://127.0.0.1:9000/alerts", {
 *   type: "deadLetter", messageId: "m1", group: "ops", topic: "Trade", attempts: 17,
 *   lastError: "HTTP 500", deadLetteredAt: new Date(0).toISOString(), alertAttempt: 1,
 * }, "s3cret", Date.now());
 * request.headers.get("escrow-signature")?.startsWith("v1="); // true
 * ```
 */
export async function alertRequest(
  url: string,
  alert: DeadLetterAlert,
  secret: string | undefined,
  now: number,
): Promise<Request> {
  return await signedPost(
    url,
    alert,
    {
      "escrow-message-id": alert.messageId,
      "escrow-alert-attempt": String(alert.alertAttempt),
    },
    secret,
    now,
  );
}

/** Only the origin of a URL goes into a log line: its path or query may hold a token. */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "an invalid URL";
  }
}

/**
 * Runs `deadLetterAlert` jobs.
 *
 * @example
 * ```ts
 * import { DeadLetterAlerts } from "./dead_letter_alerts.ts";
 * declare const alerts: DeadLetterAlerts;
 * await alerts.run({ kind: "deadLetterAlert", group: "ops", groupId: "g1", messageId: "m1",
 *   seq: 2 }, 1);
 * ```
 */
export class DeadLetterAlerts {
  readonly #deps: EngineDeps;
  readonly #groups: Groups;
  readonly #timeoutMs: number;

  /** Creates the runner over the engine's collaborators. */
  constructor(deps: EngineDeps, groups: Groups, options: DeadLetterAlertsOptions = {}) {
    this.#deps = deps;
    this.#groups = groups;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
  }

  /**
   * Makes call number `alertAttempt` for the dead letter `job` names and
   * records its outcome; ends quietly when that dead letter is gone
   * (redriven), its group deleted or its alert URL removed.
   *
   * @throws {Error} when the call failed, so that the scheduler calls again.
   */
  async run(job: DeadLetterAlertJob, alertAttempt: number): Promise<void> {
    const { kv, clock, logger, metrics } = this.#deps;
    const entry = await kv.get<DeadLetterRecord>(keys.deadLetter(job.groupId, job.messageId));
    if (!(await this.#isCurrent(job, entry))) return;
    const record = entry.value!;
    const group = await this.#groups.require(job.group).catch((error) => {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    });
    if (!group || group.id !== job.groupId || group.alertUrl === undefined) return;
    const url = group.alertUrl;
    const tag = (await readRecords(kv, [job.messageId])).get(job.messageId)?.tag;
    const alert: DeadLetterAlert = {
      type: "deadLetter",
      messageId: job.messageId,
      group: job.group,
      topic: record.topic,
      ...(tag !== undefined ? { tag } : {}),
      ...(record.messageGroup !== undefined ? { messageGroup: record.messageGroup } : {}),
      attempts: record.attempts,
      lastError: record.lastError,
      deadLetteredAt: new Date(record.deadLetteredAt).toISOString(),
      alertAttempt,
    };
    const outcome = await this.#call(
      await alertRequest(url, alert, alertSecretOf(group), clock()),
    );
    const event: DeliveryEvent = outcome.ok
      ? {
        type: "DeliveryAlertSent",
        data: { url, status: outcome.status, alertAttempt },
        at: clock(),
      }
      : {
        type: "DeliveryAlertFailed",
        data: {
          url,
          alertAttempt,
          error: outcome.error,
          ...(outcome.status !== undefined ? { status: outcome.status } : {}),
        },
        at: clock(),
      };
    await this.#record(job, event);
    metrics.alert(job.group, outcome.ok ? "sent" : "failed");
    if (outcome.ok) return;
    logger.warn(
      "alert.failed",
      `dead-letter alert for message ${job.messageId} of group ${job.group} failed (call ${alertAttempt}): ${outcome.error}`,
      {
        messageId: job.messageId,
        group: job.group,
        alertOrigin: originOf(url),
        alertAttempt,
        error: outcome.error,
      },
    );
    throw new Error(
      `Cannot deliver the dead-letter alert for message ${job.messageId}: ${outcome.error}`,
    );
  }

  /**
   * One POST through the outbound policy (checked again and pinned, no
   * redirect followed, at most 64 KiB of the answer read), bounded in time.
   */
  async #call(request: Request): Promise<CallOutcome> {
    const result = await this.#deps.outbound.send(request, {
      timeoutMs: this.#timeoutMs,
      maxBytes: MAX_ALERT_ANSWER_BYTES,
      field: "alertUrl",
    });
    if (!result.ok) {
      return result.status !== undefined
        ? { ok: false, error: `alert URL ${result.error}`, status: result.status }
        : { ok: false, error: result.error };
    }
    if (result.status >= 200 && result.status < 300) return { ok: true, status: result.status };
    return { ok: false, error: `alert URL answered HTTP ${result.status}`, status: result.status };
  }

  /**
   * Whether `entry` is still the dead letter `job` alerts about: filed, and
   * nothing but alerts appended since its `DeliveryDeadLettered` event.
   */
  async #isCurrent(
    job: DeadLetterAlertJob,
    entry: Deno.KvEntryMaybe<DeadLetterRecord>,
  ): Promise<boolean> {
    const record = entry.value;
    if (!record || record.seq < job.seq) return false;
    if (record.seq === job.seq) return true;
    const stream = keys.deliveryStreamId(job.messageId, job.groupId);
    const since = this.#deps.kv.list<DeliveryEvent>({
      start: keys.event("dlv", stream, job.seq + 1),
      end: keys.event("dlv", stream, record.seq + 1),
    });
    for await (const { value } of since) {
      if (value.type !== "DeliveryAlertSent" && value.type !== "DeliveryAlertFailed") return false;
    }
    return true;
  }

  /**
   * Appends the call's outcome at the dead letter's head and moves the
   * dead-letter entry's `seq` with it, one checked commit; a conflict (a
   * redrive, another runner) reloads, a bounded number of times. A dead
   * letter redriven meanwhile gets no event: its history moved on.
   */
  async #record(job: DeadLetterAlertJob, event: DeliveryEvent): Promise<void> {
    const { kv, store, committer } = this.#deps;
    const dlqKey = keys.deadLetter(job.groupId, job.messageId);
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const entry = await kv.get<DeadLetterRecord>(dlqKey);
      if (!(await this.#isCurrent(job, entry))) return;
      const record = entry.value!;
      const head = deadLetterHead(record);
      // The entry is written with the event at its seq and checked by every writer of the
      // next one (a redrive, this): it guards the append.
      const op = new WriteSet().check(entry);
      const steps = appendDelivery(op, store, job.groupId, head, [event], { guardedBy: dlqKey });
      if (!steps) return;
      op.set(dlqKey, { ...record, seq: record.seq + 1 } satisfies DeadLetterRecord);
      if (await committer.commit(op)) return;
    }
    this.#deps.logger.warn(
      "alert.notRecorded",
      `dead-letter alert for message ${job.messageId} of group ${job.group}: its outcome could not be recorded, the dead letter kept changing`,
      { messageId: job.messageId, group: job.group },
    );
  }
}
