/**
 * Proves that every load-bearing check has a test that fails without it.
 *
 * For each entry of {@linkcode GUARDS}, copies the repository to a temporary
 * directory (without `node_modules`, `.git` and `data`), removes the check
 * there by replacing an exact snippet of the current source with the same
 * code minus the check, runs only the entry's test files and expects them to
 * fail. Before that, the same test files run once on an unchanged copy, so a
 * test that fails anyway is never taken for a guard. Prints a markdown table
 * and exits 1 when a check is unguarded or an entry is broken (its snippet is
 * not in the file exactly once, or the change does not type-check).
 *
 * ```sh
 * deno task guards                             # every entry
 * deno task guards --only cursor,dedup         # some entries, by name
 * deno task guards --from /tmp/snapshot        # another copy of the repository
 * ```
 *
 * `JSR_URL` and the rest of the environment pass through to `deno test`.
 *
 * @module
 */
import { dirname, fromFileUrl, join, relative } from "@std/path";

/** One load-bearing check and the tests that stand for it. */
export interface Guard {
  /** Short name, for `--only`. */
  readonly name: string;
  /** File holding the check, relative to the repository root. */
  readonly file: string;
  /** An exact snippet of the current source, found exactly once in `file`. */
  readonly find: string;
  /** The same code with the check removed. */
  readonly replace: string;
  /** Test files (relative to the root) of which at least one must fail without the check. */
  readonly tests: readonly string[];
  /** What goes wrong without the check. */
  readonly why: string;
  /**
   * Further edits that make up the same removal (a check that is also
   * asserted elsewhere, like the batch guard the event store insists on).
   */
  readonly also?: readonly {
    readonly file: string;
    readonly find: string;
    readonly replace: string;
  }[];
}

/** The event store's refusal of a batch guard the operation does not carry, removed. */
const WITHOUT_BATCH_GUARD_ASSERTION = {
  file: "src/store/event_store.ts",
  find: "!(op instanceof WriteSet) || !op.isChecked(options.guardedBy)",
  replace: "false",
};

/** The first-attempts record's refusal of an operation that does not check the cursor, removed. */
const WITHOUT_FIRST_ATTEMPTS_ASSERTION = {
  file: "src/engine/delivery/first_attempts.ts",
  find: "if (!op.isChecked(guardedBy)) {",
  replace: "if (false) {",
};

/** The receive's check of its cursor, removed. */
const WITHOUT_CURSOR_CHECK = {
  file: "src/engine/delivery/receive.ts",
  find: "op.check(cursorEntry).set(cursorKey, cursor);",
  replace: "op.set(cursorKey, cursor);",
};

/**
 * The load-bearing checks. Keep `find` short and exact: when the code moves,
 * the entry fails loudly and is updated with it.
 */
export const GUARDS: readonly Guard[] = [
  {
    name: "clash",
    file: "src/store/group_commit.ts",
    find: "if (clashes && batch.length > 0) {",
    replace: "if (false && clashes && batch.length > 0) {",
    tests: ["tests/store/group_commit_test.ts", "tests/engine/races_test.ts"],
    why:
      "Changes that check or write one key would share a commit, where every check is read before any write: a commit and a rollback of one transaction both succeed and a rolled-back message is published.",
  },
  {
    name: "batch-retry",
    file: "src/store/group_commit.ts",
    find: "await this.#commitBatch([pending.writes])",
    replace: "false",
    tests: ["tests/store/group_commit_test.ts"],
    why:
      "One change failing its check fails every change that shared its commit, though their checks held.",
  },
  {
    name: "consumer-retry-after",
    file: "src/client/consumer.ts",
    find: "await pause(retryPauseMs(error), signal);",
    replace: "await pause(1_000, signal);",
    tests: ["tests/client/retry_pause_test.ts"],
    why:
      "An SDK consumer refused for load asks again after 1 s whatever Retry-After says: a fleet of consumers keeps a loaded broker loaded.",
  },
  {
    name: "refusal-isolation",
    file: "src/store/group_commit.ts",
    find: "committed = false;",
    replace: "batch.forEach((p) => p.reject(storeRefusal(error)));\n          continue;",
    tests: ["tests/store/group_commit_test.ts", "tests/engine/poisoned_batch_test.ts"],
    why:
      "One change that KV refuses (a value or key over its limits) fails every change that shared its commit: one oversized publish among 40 made the other 39 answer 500.",
  },
  ...([
    ["mutation-limit", "mutations + w.mutations + added <= LIMITS.mutations &&"],
    ["check-limit", "checks + w.checks <= LIMITS.checks &&"],
    ["byte-limit", "bytes + w.bytes <= LIMITS.bytes &&"],
    ["log-limit", "[...topics].every(([t, b]) => (logBytes.get(t) ?? 0) + b <= LIMITS.logBytes)"],
  ] as const).map(([name, find]): Guard => ({
    name,
    file: "src/store/group_commit.ts",
    find,
    replace: find.endsWith("&&") ? "" : "true",
    tests: ["tests/store/group_commit_test.ts"],
    why:
      "Changes that fit one by one are batched past Deno KV's limits of one commit (1,000 mutations, 100 checks, 800 KiB, 64 KiB per value): the whole batch throws.",
  })),
  {
    name: "append",
    file: "src/store/event_store.ts",
    // The check's argument stays, as an unused expression: the snippet is then the same
    // however the call is wrapped.
    find: "op.check({",
    replace: "void ({",
    tests: [
      "tests/store/event_store_test.ts",
      "tests/engine/two_brokers_test.ts",
      "tests/engine/races_test.ts",
    ],
    why:
      "An append at a stale version overwrites the event at that seq: two brokers both decide one transaction.",
  },
  {
    name: "prepare-clash",
    file: "src/engine/transactions/transactions.ts",
    find: "if (!(await this.#sameContent(snapshot.context, topic, input, body))) {",
    replace: "if (false) {",
    tests: ["tests/http/transactions_test.ts", "tests/engine/races_test.ts"],
    why:
      "A prepare reusing a transaction id with other content answers as if it were a retry of the first, and the producer's message is silently not the one stored.",
  },
  {
    name: "cursor",
    file: "src/engine/delivery/receive.ts",
    find: "op.check(cursorEntry).set(cursorKey, cursor);",
    replace: "op.set(cursorKey, cursor);",
    also: [WITHOUT_BATCH_GUARD_ASSERTION, WITHOUT_FIRST_ATTEMPTS_ASSERTION],
    tests: ["tests/engine/races_test.ts"],
    why:
      "Two brokers read one cursor and route the same log entries: a message is handed out twice within its visibility timeout (the cursor is the checked batch record of every delivery a receive starts from the log).",
  },
  {
    name: "batch-guard",
    file: "src/store/event_store.ts",
    find: "!(op instanceof WriteSet) || !op.isChecked(options.guardedBy)",
    replace: "false",
    also: [WITHOUT_CURSOR_CHECK],
    tests: ["tests/store/event_store_test.ts"],
    why:
      "An append under a batch guard that the operation does not carry would write a stream's events unchecked; the event store refuses it.",
  },
  {
    name: "first-attempts-guard",
    file: WITHOUT_FIRST_ATTEMPTS_ASSERTION.file,
    find: WITHOUT_FIRST_ATTEMPTS_ASSERTION.find,
    replace: WITHOUT_FIRST_ATTEMPTS_ASSERTION.replace,
    also: [WITHOUT_CURSOR_CHECK],
    tests: ["tests/engine/delivery/first_attempts_test.ts"],
    why:
      "A first-attempts record written by an operation that does not check the cursor passing its entries would start deliveries unchecked; the record refuses it.",
  },
  {
    name: "first-attempts-member",
    file: "src/engine/delivery/first_attempts.ts",
    find: "if (record.messageIds.includes(of.messageId)) return firstAttempt(record);",
    replace: "return firstAttempt(record);",
    tests: ["tests/engine/delivery/first_attempts_test.ts"],
    why:
      "A message's history takes the first attempt of another message of its log value: a delivery no round started is shown (and settled from) as in flight.",
  },
  {
    name: "first-attempts-tx",
    file: "src/engine/delivery/first_attempts.ts",
    find: "if (record.value.transactionId === undefined) return record.versionstamp ?? undefined;",
    replace: "return record.versionstamp ?? undefined;",
    tests: ["tests/engine/delivery/first_attempts_test.ts"],
    why:
      "A transactional message is looked for at its prepare's position, not its commit's: its first attempt is missing from its history once other messages were delivered in between.",
  },
  {
    name: "timer-after-commit",
    file: "src/engine/jobs/scheduler.ts",
    find: "    this.#ring(op, dueAt - this.#clock());\n    op.onCommitted(() => {",
    replace:
      "    this.#ring(op, dueAt - this.#clock());\n    this.#scheduledOnce.set(memo, dueAt);\n    op.onCommitted(() => {",
    tests: ["tests/engine/jobs/scheduler_test.ts"],
    why:
      "A shared timer is taken as stored before its commit: when that commit fails, the next schedules write nothing and the leases that end in that second are never expired.",
  },
  {
    name: "expiry-rest",
    file: "src/engine/delivery/visibility.ts",
    find: "if (round === EXPIRY_ROUNDS - 1) {",
    replace: "if (false) {",
    tests: ["tests/engine/delivery/expiry_test.ts"],
    why:
      "An expiry run that stops at its bound leaves the rest of the leases ended in its second to no job (they share one): those deliveries stay in flight for ever.",
  },
  {
    name: "due",
    file: "src/engine/delivery/receive.ts",
    find:
      "op.check(entry).delete(entry.key); // a due entry hands out its delivery's next event, once",
    replace: "op.delete(entry.key);",
    also: [WITHOUT_BATCH_GUARD_ASSERTION],
    tests: ["tests/engine/races_test.ts"],
    why:
      "Two brokers take the same due entry: a retry is handed out twice (the due entry is the checked record of the delivery's next event).",
  },
  {
    name: "json-plain-keys",
    file: "src/http/json_body.ts",
    find: "      if (REFUSED_KEYS.has(key)) return false;\n",
    replace: "",
    tests: ["tests/http/input_validation_test.ts"],
    why:
      "The strict JSON reader's fast path takes a body with a __proto__, constructor or prototype key as plain, and it reaches the route.",
  },
  {
    name: "json-plain-numbers",
    file: "src/http/json_body.ts",
    find:
      "if (!Number.isFinite(value) || (Number.isInteger(value) && !Number.isSafeInteger(value))) {",
    replace: "if (false) {",
    tests: ["tests/http/input_validation_test.ts"],
    why:
      "The strict JSON reader's fast path keeps 1e309 as Infinity (stored as null) and rounds an integer past 2^53 without a word.",
  },
  {
    name: "handle-signature",
    file: "src/domain/receipt_handle.ts",
    find: "if (!equalBytes(given, expected)) {",
    replace: "if (false) {",
    tests: ["tests/groups/receipt_handles_test.ts"],
    why:
      "An edited or rebuilt receipt handle (seq + 1, another attempt) settles a delivery it does not name, and its append overwrites history.",
  },
  {
    name: "machine-current-attempt",
    file: "machines/delivery.ts",
    find: '"attempt" in event.data && event.data.attempt === context.attempt',
    replace: '"attempt" in event.data',
    tests: ["tests/machines/delivery_test.ts", "tests/engine/delivery/settling_test.ts"],
    why:
      "The delivery machine takes an ack, a nack or a visibility change of another attempt than the one in flight (its guard is what the engine's decisions run).",
  },
  {
    name: "handle-incarnation",
    file: "src/engine/delivery/settle.ts",
    find: ": reading.handle.groupId !== group.record.id",
    replace: ": false",
    tests: ["tests/groups/receipt_handles_test.ts"],
    why:
      "A handle of a deleted group settles a delivery of the group created again under its name.",
  },
  {
    name: "handle-head",
    file: "src/engine/delivery/settle.ts",
    find: "if (head.seq !== item.head.seq || head.state !== item.head.state) {",
    replace: "if (false) {",
    tests: ["tests/groups/receipt_handles_test.ts", "tests/groups/pull_test.ts"],
    why:
      "A replayed handle settles its delivery a second time and overwrites the event after its head.",
  },
  {
    name: "ack-lease",
    file: "src/engine/delivery/settle.ts",
    find:
      "op.check(lease); // the lease lists the heads settled here, and an ack record takes them out",
    replace: "// the lease, unchecked",
    tests: ["tests/engine/delivery/ack_records_test.ts"],
    why:
      "An ack record and a nack (or a second ack) of one handle both commit: the delivery is acked and retried, counted twice.",
  },
  {
    name: "ack-next-free",
    file: "src/engine/delivery/settle.ts",
    find:
      "op.check({ key: deliveryEventKey(id, head.messageId, head.seq + 1), versionstamp: null });",
    replace: "",
    tests: ["tests/engine/delivery/ack_records_test.ts"],
    why:
      "An ack after a nack of the same handle is recorded: the delivery is both retrying and acked.",
  },
  {
    name: "ack-batch-once",
    file: "src/engine/delivery/ack_batcher.ts",
    find: "if (!fits || waiting.texts.some((text) => seen.has(text))) {",
    replace: "if (!fits) {",
    tests: [
      "tests/engine/delivery/ack_batcher_test.ts",
      "tests/engine/delivery/ack_records_test.ts",
    ],
    why: "Two acks of one handle made at once settle in one batch and both report it settled.",
  },
  {
    name: "visibility-lease",
    file: "src/engine/delivery/visibility.ts",
    find: "const op = new WriteSet().check(lease);",
    replace: "const op = new WriteSet();",
    tests: ["tests/engine/delivery/ack_records_test.ts"],
    why:
      "A visibility change racing an ack both take effect: the consumer holds a new handle of an acked delivery.",
  },
  {
    name: "collect-acks",
    file: "src/engine/groups/groups.ts",
    find: "      keys.acks(groupId),\n",
    replace: "",
    tests: ["tests/engine/delivery/ack_records_test.ts"],
    why: "A deleted group's ack records stay in the database for ever.",
  },
  {
    name: "receipt-key-creation",
    file: "src/engine/delivery/receipt_keys.ts",
    find: "this.#kv.atomic().check(entry).set(keys.receiptKeys(), created),",
    replace: "this.#kv.atomic().set(keys.receiptKeys(), created),",
    tests: ["tests/engine/delivery/receipt_keys_test.ts"],
    why:
      "Two instances starting at once each create a secret: handles signed by one are refused by the other.",
  },
  {
    name: "dead-letter-after-commit",
    file: "src/engine/delivery/effects.ts",
    find: "op.onCommitted(() =>\n          deps.logger.warn(",
    replace: "((fn: () => void) => fn())(() =>\n          deps.logger.warn(",
    tests: ["tests/engine/delivery/settling_test.ts"],
    why: "A dead-letter warning (and later its alert) is announced for a nack that lost its race.",
  },
  {
    name: "dedup",
    file: "src/engine/publishing/publisher.ts",
    find: "op.check({ key: dedupKey, versionstamp: seenVersion ?? null })\n        .set(",
    replace: "op.set(",
    tests: ["tests/engine/races_test.ts", "tests/http/batch_publish_test.ts"],
    why: "Two publishes with one dedupId at once both store a message.",
  },
  {
    name: "job-lease",
    file: "src/engine/jobs/scheduler.ts",
    find: "this.#kv.atomic().check(entry).delete(entry.key).set(leaseKey, leased)",
    replace: "this.#kv.atomic().delete(entry.key).set(leaseKey, leased)",
    tests: ["tests/engine/races_test.ts", "tests/engine/jobs/scheduler_test.ts"],
    why: "Two schedulers on one KV lease the same job: it runs twice, at once.",
  },
  {
    name: "order-lock",
    file: "src/engine/delivery/receive.ts",
    find: "op.check(lock); // one message of a message group in progress at a time\n",
    replace: "",
    tests: ["tests/engine/races_test.ts", "tests/engine/delivery/ordered_test.ts"],
    why:
      "A receive parks a message behind a lock that an ack on another broker frees at the same moment: the lock is written back for a settled message and its message group stalls.",
  },
  {
    name: "group-put",
    file: "src/engine/groups/groups.ts",
    find: "kv.atomic().check(previous).set(keys.group(name), group)",
    replace: "kv.atomic().set(keys.group(name), group)",
    tests: ["tests/engine/races_test.ts", "tests/groups/crud_test.ts"],
    why:
      "Two puts creating one group at once both report it created, and the second overwrites the first's record (and its id).",
  },
  {
    name: "outbound-link-local",
    file: "src/outbound/address.ts",
    find: '    case "linkLocal":',
    replace: '    case "reserved":',
    tests: ["tests/outbound/policy_test.ts"],
    why: "A check-back or push URL of 169.254.169.254 (cloud metadata) is called.",
  },
  {
    name: "outbound-broker-itself",
    file: "src/outbound/policy.ts",
    find: "      if (this.#isSelf(address, port)) {",
    replace: "      if (false) {",
    tests: ["tests/outbound/outbound_calls_test.ts"],
    why:
      "A checkUrl of http://127.0.0.1:<broker>/v1/transactions/<victim>/commit commits another producer's transaction.",
  },
  {
    name: "outbound-credentials",
    file: "src/outbound/policy.ts",
    find: '    if (parsed.username !== "" || parsed.password !== "") {',
    replace: "    if (false) {",
    tests: ["tests/outbound/outbound_calls_test.ts"],
    why: "Credentials in a URL are stored, sent and echoed back by GET.",
  },
  {
    name: "outbound-api-check",
    file: "src/engine/transactions/transactions.ts",
    find: 'if (input.checkUrl !== undefined) await outbound.check(input.checkUrl, "checkUrl");',
    replace: "",
    tests: ["tests/outbound/outbound_calls_test.ts"],
    why: "A checkUrl the policy refuses is accepted at prepare and fails silently later.",
  },
  {
    name: "outbound-recheck",
    file: "src/outbound/outbound.ts",
    find: "const target = await abortable(this.policy.check(request.url, options.field), signal);",
    replace:
      'const target = await abortable(this.policy.check(request.url, options.field, { storing: true }).catch(() => ({ url: new URL(request.url), port: Number(new URL(request.url).port), addresses: ["127.0.0.1"] })), signal);',
    tests: ["tests/outbound/outbound_calls_test.ts"],
    why:
      "A name that resolved to an allowed address at the API is called after it rebinds to 169.254.169.254.",
  },
  {
    name: "outbound-answer-limit",
    file: "src/outbound/outbound.ts",
    find: "      if (read + value.byteLength > maxBytes) {",
    replace: "      if (read < 0) {",
    tests: ["tests/outbound/outbound_calls_test.ts"],
    why: "A 20 MiB check-back answer is read in full.",
  },
  {
    name: "check-back-signature",
    file: "src/client/transaction_producer.ts",
    find: "    if (secrets.length > 0) {",
    replace: "    if (false) {",
    tests: ["tests/outbound/signed_check_back_test.ts"],
    why: "The SDK answers an unsigned or stale check-back from anyone.",
  },
  {
    name: "overload-rate",
    file: "src/http/limits/overload.ts",
    find: "        if (waitMs > 0) {",
    replace: "        if (waitMs < 0) {",
    tests: ["tests/http/overload_test.ts"],
    why:
      "One token sends as many requests a second as it likes and takes the broker from the others.",
  },
  {
    name: "overload-total",
    file: "src/http/limits/slots.ts",
    find: '    if (this.#total > 0 && this.#inUse >= this.#total) return "total";',
    replace: "",
    tests: ["tests/http/overload_test.ts"],
    why: "Requests and long polls in progress have no cap: memory grows until the process dies.",
  },
  {
    name: "overload-per-token",
    file: "src/http/limits/slots.ts",
    find: '    if (perKey && this.#perKey > 0 && held >= this.#perKey) return "key";',
    replace: "",
    tests: ["tests/http/overload_test.ts"],
    why: "One token's requests or long polls in progress take every slot of the total.",
  },
  {
    name: "overload-release",
    file: "src/http/limits/overload.ts",
    find: "        slot.release();",
    replace: "        void slot;",
    tests: ["tests/http/overload_test.ts"],
    why: "Finished requests keep their slots: after enough of them every request is a 503.",
  },
  {
    name: "long-poll-admission",
    file: "src/http/groups.ts",
    find: "using _longPoll = admitLongPoll(c, body.waitSeconds ?? 0);",
    replace: "using _longPoll = admitLongPoll(c, 0);",
    tests: ["tests/http/overload_test.ts"],
    why: "Long polls have no cap, in total or per token.",
  },
  {
    name: "push-sync-not-held",
    file: "src/engine/delivery/push.ts",
    find: "        this.#stopping.add(stopped);",
    replace: "        this.#stopping.add(stopped);\n        await stopped;",
    tests: ["tests/engine/delivery/push_fairness_test.ts"],
    why:
      "Removing a group whose endpoint holds its pushes stops every other push group from starting or changing for up to its timeout.",
  },
  {
    name: "tag-counts-appended",
    file: "src/store/group_commit.ts",
    find: "      for (const [tag, n] of perTag) sums.add(keys.tagCount(topic, tag), BigInt(n));",
    replace: "",
    tests: ["tests/groups/backlog_counts_test.ts"],
    why:
      "A log commit does not count its entries per tag: every tag group's backlog, read from the counts, is wrong.",
  },
  {
    name: "tag-count-mutations",
    file: "src/store/group_commit.ts",
    find: "const added = newTopics * 3 + newTags.size;",
    replace: "const added = newTopics * 3;",
    tests: ["tests/store/group_commit_test.ts"],
    why:
      "A batch's tag counts are left out of its mutations: many tags in one batch go past Deno KV's 1,000 mutations, the commit is refused and every change commits alone.",
  },
  {
    name: "tag-counts-passed",
    file: "src/engine/delivery/receive.ts",
    find: '        if (seen) seen[entry.tag ?? ""] = (seen[entry.tag ?? ""] ?? 0) + 1;',
    replace: "",
    tests: ["tests/groups/backlog_counts_test.ts"],
    why:
      "A cursor passes log entries without counting them: a tag group's backlog never goes down as it receives.",
  },
  {
    name: "wake-tags",
    file: "src/engine/delivery/long_poll.ts",
    find:
      "s.wakeTags ? s.wakeTags.map((tag) => keys.tagCount(s.topic, tag)) : [keys.topicHead(s.topic)]",
    replace: "[keys.topicHead(s.topic)]",
    also: [{
      file: "tests/engine/delivery/long_poll_test.ts",
      find:
        '  assertEquals(wakeKeys(ops), [keys.groupSignal(ops.record.id), keys.tagCount("Orders", "Ops")]);\n',
      replace: "",
    }],
    tests: ["tests/engine/delivery/long_poll_test.ts"],
    why:
      "Every publish to a topic wakes every long poll on it, of groups that take its tag or not: each runs a round for nothing and commits a cursor move (at the bench's five groups, 10 long polls per publish).",
  },
  {
    name: "scan-on",
    file: "src/engine/delivery/deliveries.ts",
    find: "      if (more || !eager) continue;",
    replace: "      if (!eager) continue;",
    tests: ["tests/engine/delivery/long_poll_test.ts"],
    why:
      "A cursor further behind than one receive scans waits for a wake-up no entry for other tags sends: a message past them reaches a long poll only at its deadline.",
  },
];

/** What happened to one entry. */
export type Verdict =
  | { readonly kind: "guarded"; readonly failing: readonly string[] }
  | { readonly kind: "unguarded" }
  | { readonly kind: "broken"; readonly reason: string };

const SKIPPED = new Set(["node_modules", ".git", "data"]);

/** Hang guard of one `deno test` run. */
const RUN_TIMEOUT_MS = 10 * 60_000;

/** Copies the repository at `from` into a new temporary directory and returns its path. */
async function copyRepo(from: string): Promise<string> {
  const to = await Deno.makeTempDir({ prefix: "escrow-guards-" });
  const copy = async (source: string, target: string) => {
    for await (const item of Deno.readDir(source)) {
      if (SKIPPED.has(item.name) && source === from) continue;
      const s = join(source, item.name);
      const t = join(target, item.name);
      if (item.isDirectory) {
        await Deno.mkdir(t);
        await copy(s, t);
      } else if (item.isFile) {
        await Deno.copyFile(s, t);
      } else if (item.isSymlink) {
        await Deno.symlink(await Deno.readLink(s), t);
      }
    }
  };
  await copy(from, to);
  return to;
}

/**
 * How often `snippet` occurs in `text` (overlapping occurrences counted).
 *
 * @example
 * ```ts
 * import { occurrences } from "./check_guards.ts";
 * occurrences("a-a-a", "a-a"); // 2
 * ```
 */
export function occurrences(text: string, snippet: string): number {
  if (snippet === "") return 0;
  let count = 0;
  for (let at = text.indexOf(snippet); at !== -1; at = text.indexOf(snippet, at + 1)) count++;
  return count;
}

/** Names of the failed tests in `deno test` output (the FAILURES section). */
function failedTests(output: string): string[] {
  const section = output.split(/^\s*FAILURES\s*$/m)[1] ?? "";
  return [...section.matchAll(/^(.+?) => \.?\/?(\S+?):\d+:\d+$/gm)]
    .map((m) => `${m[1]!.trim()} (${m[2]})`);
}

/** Runs `deno test` on `tests` in `dir`; returns its exit code and output. */
async function runTests(
  dir: string,
  tests: readonly string[],
): Promise<{ code: number; output: string }> {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--quiet", ...tests],
    cwd: dir,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(RUN_TIMEOUT_MS),
  });
  const { code, stdout, stderr } = await command.output();
  const text = new TextDecoder();
  return { code, output: text.decode(stdout) + text.decode(stderr) };
}

/** Whether `deno test` output says the program did not type-check. */
function typeCheckFailed(output: string): boolean {
  return /Type checking failed|^TS\d+ \[ERROR\]/m.test(output);
}

/** Removes `guard`'s check in a copy of `root` and runs its tests there. */
export async function judge(root: string, guard: Guard): Promise<Verdict> {
  const edits = [
    { file: guard.file, find: guard.find, replace: guard.replace },
    ...guard.also ?? [],
  ];
  const sources = new Map<string, string>();
  for (const edit of edits) {
    const source = sources.get(edit.file) ?? await Deno.readTextFile(join(root, edit.file));
    const found = occurrences(source, edit.find);
    if (found !== 1) {
      return { kind: "broken", reason: `snippet found ${found} times in ${edit.file}, not once` };
    }
    sources.set(edit.file, source.replace(edit.find, edit.replace));
  }
  const dir = await copyRepo(root);
  try {
    for (const [file, source] of sources) await Deno.writeTextFile(join(dir, file), source);
    const { code, output } = await runTests(dir, guard.tests);
    if (code === 0) return { kind: "unguarded" };
    if (typeCheckFailed(output)) {
      return { kind: "broken", reason: "the code without the check does not type-check" };
    }
    const failing = failedTests(output);
    return failing.length > 0
      ? { kind: "guarded", failing }
      : { kind: "broken", reason: `tests exited ${code} without a failed test:\n${output}` };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs every test file of `guards` on an unchanged copy; returns the files that fail. */
async function baselineFailures(root: string, guards: readonly Guard[]): Promise<Set<string>> {
  const files = [...new Set(guards.flatMap((g) => g.tests))];
  const dir = await copyRepo(root);
  try {
    const failing = new Set<string>();
    for (const file of files) {
      const { code, output } = await runTests(dir, [file]);
      if (code !== 0) {
        failing.add(file);
        console.error(`baseline: ${file} fails without any change:\n${output.slice(-4000)}`);
      }
    }
    return failing;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** One table cell: no pipes, no line breaks. */
function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

/** The markdown table of the results. */
export function table(results: readonly { guard: Guard; verdict: Verdict }[]): string {
  const lines = [
    "| check | file | test that fails without it | result |",
    "| --- | --- | --- | --- |",
  ];
  for (const { guard, verdict } of results) {
    const tests = verdict.kind === "guarded"
      ? verdict.failing.slice(0, 2).join("; ") +
        (verdict.failing.length > 2 ? `; and ${verdict.failing.length - 2} more` : "")
      : verdict.kind === "unguarded"
      ? `none of ${guard.tests.join(", ")}`
      : "";
    const result = verdict.kind === "guarded"
      ? "guarded"
      : verdict.kind === "unguarded"
      ? "**UNGUARDED**"
      : `**BROKEN**: ${verdict.reason.split("\n")[0]}`;
    lines.push(`| ${cell(guard.name)} | ${cell(guard.file)} | ${cell(tests)} | ${cell(result)} |`);
  }
  return lines.join("\n");
}

/** Reads `--only a,b` and `--from dir` (also as `--only=a,b`, `--from=dir`). */
function parseArgs(args: readonly string[]): { only?: string[]; from?: string } {
  const parsed: { only?: string[]; from?: string } = {};
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new TypeError(`Cannot read ${flag}: it needs a value`);
      return v;
    };
    if (flag === "--only") parsed.only = value().split(",").map((s) => s.trim()).filter(Boolean);
    else if (flag === "--from") parsed.from = value();
    else throw new TypeError(`Cannot read argument ${args[i]}: use --only a,b or --from dir`);
  }
  return parsed;
}

async function main(): Promise<number> {
  const args = parseArgs(Deno.args);
  const root = args.from ?? join(dirname(fromFileUrl(import.meta.url)), "..");
  const unknown = (args.only ?? []).filter((name) => !GUARDS.some((g) => g.name === name));
  if (unknown.length > 0) {
    console.error(`Unknown checks: ${unknown.join(", ")}; known: ${GUARDS.map((g) => g.name)}`);
    return 2;
  }
  const guards = args.only ? GUARDS.filter((g) => args.only!.includes(g.name)) : GUARDS;
  if (Deno.env.get("JSR_URL") === undefined) {
    console.error("warning: JSR_URL is not set; jsr: imports resolve against the network");
  }
  console.error(`baseline: running ${relative(Deno.cwd(), root) || "."}'s tests unchanged`);
  const failingAnyway = await baselineFailures(root, guards);
  const results: { guard: Guard; verdict: Verdict }[] = [];
  for (const guard of guards) {
    console.error(`${guard.name}: removing the check in ${guard.file}`);
    const stale = guard.tests.filter((t) => failingAnyway.has(t));
    const verdict: Verdict = stale.length > 0
      ? { kind: "broken", reason: `fails without the change: ${stale.join(", ")}` }
      : await judge(root, guard);
    results.push({ guard, verdict });
  }
  console.log(table(results));
  const bad = results.filter((r) => r.verdict.kind !== "guarded");
  for (const { guard, verdict } of bad) {
    console.log(`\n${guard.name} (${verdict.kind}): without it, ${guard.why}`);
    if (verdict.kind === "broken") console.log(verdict.reason);
  }
  return bad.length === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
