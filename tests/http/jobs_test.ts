/**
 * `/v1/jobs` in memory: a broker on `:memory:` whose jobs run only when a
 * test calls `scheduler.runDue()`, with the test's clock moved by hand. A job
 * that throws is a `checkBack` job for a transaction that does not exist:
 * the broker's real handler fails it with NotFoundError every time.
 *
 * @module
 */
import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { encodeBase64Url } from "@std/encoding/base64url";
import { stub } from "@std/testing/mock";
import type { z } from "@hono/zod-openapi";
import { DEFAULT_JOB_MAX_ATTEMPTS, type Job, JOB_RETRY_MAX_MS } from "../../src/engine/jobs/mod.ts";
import type { JobPageSchema, JobSchema } from "../../src/http/schemas.ts";
import { assertIso, assertProblem, kvSnapshot, openApi, T0, type TestApi } from "./_helpers.ts";

type JobJson = z.infer<typeof JobSchema>;
type JobPageJson = z.infer<typeof JobPageSchema>;

/** `text` as base64url, the way a cursor is encoded. */
const cursorOf = (text: string) => encodeBase64Url(new TextEncoder().encode(text));

const missingTx = (check = 1): Job => ({ kind: "checkBack", transactionId: "no-such-tx", check });
const LAST_ERROR = "NotFoundError: Cannot find transaction: no-such-tx";

/** Schedules `job` at `dueAt` through the broker's scheduler. */
async function schedule(api: TestApi, job: Job, dueAt = api.now()): Promise<void> {
  const op = api.kv.atomic();
  api.broker.scheduler.schedule(op, job, dueAt);
  assert((await op.commit()).ok);
}

/** Runs a job that always throws until its attempts are spent; returns its id. */
async function failedJob(api: TestApi): Promise<string> {
  await schedule(api, missingTx());
  const [pending] = (await api.get<JobPageJson>("/v1/jobs")).body.jobs;
  assert(pending !== undefined);
  for (let run = 1; run <= DEFAULT_JOB_MAX_ATTEMPTS; run++) {
    assertEquals(await api.broker.scheduler.runDue(), 1, `run ${run}`);
    api.advance(JOB_RETRY_MAX_MS);
  }
  return pending.id;
}

/** Silences the job logs of a test and counts the failure lines. */
function quietLogs() {
  const warn = stub(console, "warn");
  const error = stub(console, "error");
  return {
    errors: () => error.calls.map((call) => call.args.join(" ")),
    [Symbol.dispose]() {
      warn.restore();
      error.restore();
    },
  };
}

Deno.test("GET /v1/jobs lists pending jobs by default, in due order, with kind, payload, runs and ISO dueAt", async () => {
  await using api = await openApi();
  await schedule(api, missingTx(2), T0 + 5_000);
  await schedule(api, { kind: "visibilityDue", group: "ops" }, T0 + 1_000);
  const res = await api.get<JobPageJson>("/v1/jobs");
  assertEquals(res.status, 200);
  assertEquals(res.body.cursor, undefined);
  const [first, second] = res.body.jobs;
  assert(first !== undefined && second !== undefined && res.body.jobs.length === 2);
  assertEquals(first, {
    id: first.id,
    kind: "visibilityDue",
    job: { kind: "visibilityDue", group: "ops" },
    runs: 0,
    dueAt: new Date(T0 + 1_000).toISOString(),
  });
  assertEquals(second.kind, "checkBack");
  assertEquals(second.job, { kind: "checkBack", transactionId: "no-such-tx", check: 2 });
  assertIso(second.dueAt);
  assertEquals((await api.get<JobPageJson>("/v1/jobs?state=pending")).body, res.body);
  assertEquals((await api.get<JobPageJson>("/v1/jobs?state=failed")).body, { jobs: [] });
});

Deno.test("a job that keeps failing is pending with its last error, then after 10 attempts is listed as failed", async () => {
  await using api = await openApi();
  using logs = quietLogs();
  await schedule(api, missingTx());
  assertEquals(await api.broker.scheduler.runDue(), 1);
  const [retrying] = (await api.get<JobPageJson>("/v1/jobs")).body.jobs;
  assertEquals(retrying?.runs, 1);
  assertEquals(retrying?.lastError, LAST_ERROR);
  assertEquals(retrying?.dueAt, new Date(T0 + 1_000).toISOString(), "1 s back-off");

  api.advance(1_000);
  for (let run = 2; run <= DEFAULT_JOB_MAX_ATTEMPTS; run++) {
    assertEquals(await api.broker.scheduler.runDue(), 1, `run ${run}`);
    if (run < DEFAULT_JOB_MAX_ATTEMPTS) assertEquals(logs.errors(), [], "not failed yet");
    api.advance(JOB_RETRY_MAX_MS);
  }
  assertEquals((await api.get<JobPageJson>("/v1/jobs")).body, { jobs: [] });
  const failed = await api.get<JobPageJson>("/v1/jobs?state=failed");
  assertEquals(failed.status, 200);
  const [job] = failed.body.jobs;
  assert(job !== undefined && failed.body.jobs.length === 1);
  assertEquals(job, {
    id: retrying!.id,
    kind: "checkBack",
    job: { kind: "checkBack", transactionId: "no-such-tx", check: 1 },
    runs: 10,
    lastError: LAST_ERROR,
    failedAt: job.failedAt,
  });
  assertIso(job.failedAt);
  assertEquals(logs.errors(), [`job failed: checkBack ${job.id} after 10 runs: ${LAST_ERROR}`]);

  api.advance(24 * 3600_000);
  assertEquals(await api.broker.scheduler.runDue(), 0, "a failed job is not run again");
});

Deno.test("POST /v1/jobs/failed/{id}/retry puts the job back pending, due now with runs 0, and it runs", async () => {
  await using api = await openApi();
  using _logs = quietLogs();
  const id = await failedJob(api);
  const res = await api.post<JobJson>(`/v1/jobs/failed/${id}/retry`);
  assertEquals(res.status, 200);
  const now = new Date(api.now()).toISOString();
  assertEquals(res.body, {
    id,
    kind: "checkBack",
    job: { kind: "checkBack", transactionId: "no-such-tx", check: 1 },
    runs: 0,
    lastError: LAST_ERROR,
    dueAt: now,
  });
  assertEquals((await api.get<JobPageJson>("/v1/jobs?state=failed")).body, { jobs: [] });
  assertEquals((await api.get<JobPageJson>("/v1/jobs")).body, { jobs: [res.body] });
  assertEquals(await api.broker.scheduler.runDue(), 1, "it runs again");
  const [again] = (await api.get<JobPageJson>("/v1/jobs")).body.jobs;
  assertEquals(again?.runs, 1, "with a fresh count of attempts");
  assertProblem(await api.post(`/v1/jobs/failed/${id}/retry`), 404, id);
});

Deno.test("DELETE /v1/jobs/failed/{id} removes a failed job with 204; again it is 404", async () => {
  await using api = await openApi();
  using _logs = quietLogs();
  const id = await failedJob(api);
  const res = await api.send("DELETE", `/v1/jobs/failed/${id}`);
  assertEquals(res.status, 204);
  assertEquals((await api.get<JobPageJson>("/v1/jobs?state=failed")).body, { jobs: [] });
  assertEquals((await api.get<JobPageJson>("/v1/jobs")).body, { jobs: [] });
  assertProblem(await api.send("DELETE", `/v1/jobs/failed/${id}`), 404, id);
});

Deno.test("retry and delete of an unknown failed job are 404 problems and change nothing", async () => {
  await using api = await openApi();
  await schedule(api, missingTx());
  const [pending] = (await api.get<JobPageJson>("/v1/jobs")).body.jobs;
  const before = await kvSnapshot(api.kv);
  for (const id of ["01J0000000000000000000000", pending!.id]) {
    const retry = assertProblem(await api.post(`/v1/jobs/failed/${id}/retry`), 404, id);
    assertEquals(retry.type, "https://escrow.dev/problems/notfound");
    assertProblem(await api.send("DELETE", `/v1/jobs/failed/${id}`), 404, id);
  }
  assertProblem(await api.post(`/v1/jobs/failed/${encodeURIComponent("a b")}/retry`), 400);
  assertEquals(await kvSnapshot(api.kv), before);
});

Deno.test("GET /v1/jobs pages with limit and cursor, in due order, each job once", async () => {
  await using api = await openApi();
  for (let i = 0; i < 5; i++) await schedule(api, missingTx(i), T0 + (5 - i) * 1_000);
  const seen: JobJson[] = [];
  let cursor: string | undefined;
  const pages: number[] = [];
  for (let page = 0; page < 10; page++) {
    const query = cursor === undefined ? "" : `&cursor=${encodeURIComponent(cursor)}`;
    const res = await api.get<JobPageJson>(`/v1/jobs?limit=2${query}`);
    assertEquals(res.status, 200);
    seen.push(...res.body.jobs);
    pages.push(res.body.jobs.length);
    cursor = res.body.cursor;
    if (cursor === undefined) break;
  }
  assertEquals(pages, [2, 2, 1]);
  assertEquals(seen.map((j) => (j.job as { check: number }).check), [4, 3, 2, 1, 0]);
  assertEquals(new Set(seen.map((j) => j.id)).size, 5);
  const all = await api.get<JobPageJson>("/v1/jobs?limit=5");
  assertEquals(all.body, { jobs: seen }, "a full last page has no cursor");
});

Deno.test("GET /v1/jobs?state=failed pages with limit and cursor", async () => {
  await using api = await openApi();
  using _logs = quietLogs();
  const ids = [await failedJob(api), await failedJob(api), await failedJob(api)];
  const first = await api.get<JobPageJson>("/v1/jobs?state=failed&limit=2");
  assertEquals(first.body.jobs.length, 2);
  assert(first.body.cursor !== undefined);
  const second = await api.get<JobPageJson>(
    `/v1/jobs?state=failed&limit=2&cursor=${encodeURIComponent(first.body.cursor)}`,
  );
  assertEquals(second.body.cursor, undefined);
  assertEquals([...first.body.jobs, ...second.body.jobs].map((j) => j.id), ids.toSorted());
  const pending = await api.get(`/v1/jobs?limit=2&cursor=${encodeURIComponent(first.body.cursor)}`);
  assertProblem(pending, 400, "cursor");
});

for (
  const [what, query, names] of [
    ["an unknown state", "state=done", "query.state"],
    ["limit 0", "limit=0", "query.limit"],
    ["limit 1001", "limit=1001", "query.limit"],
    ["a limit that is not a number", "limit=ten", "query.limit"],
    ["a cursor that is not base64url", "cursor=%25%25%25", "cursor"],
    ["a cursor of valid base64url but no JSON", `cursor=${cursorOf("nope")}`, "cursor"],
    ["a cursor of JSON but no object", `cursor=${cursorOf("null")}`, "cursor"],
    [
      "a cursor naming a key of the wrong shape",
      `cursor=${cursorOf(JSON.stringify({ s: "pending", k: ["x"] }))}`,
      "cursor",
    ],
    [
      "a cursor of the failed listing",
      `cursor=${cursorOf(JSON.stringify({ s: "failed", k: ["x"] }))}`,
      "cursor",
    ],
    ["an empty cursor", "cursor=", "query.cursor"],
  ] as const
) {
  Deno.test(`GET /v1/jobs with ${what} is a 400 problem`, async () => {
    await using api = await openApi();
    await schedule(api, missingTx());
    const problem = assertProblem(await api.get(`/v1/jobs?${query}`), 400, names);
    assertEquals(problem.type, "https://escrow.dev/problems/validation");
  });
}

Deno.test("the OpenAPI document describes /v1/jobs and the failed-job routes", async () => {
  await using api = await openApi();
  const doc = await api.get<{ paths: Record<string, Record<string, unknown>> }>("/openapi.json");
  assertEquals(Object.keys(doc.body.paths["/v1/jobs"] ?? {}), ["get"]);
  assertEquals(Object.keys(doc.body.paths["/v1/jobs/failed/{id}"] ?? {}), ["delete"]);
  assertEquals(Object.keys(doc.body.paths["/v1/jobs/failed/{id}/retry"] ?? {}), ["post"]);
});
