/**
 * `/v1/jobs`: the broker's durable jobs, for operators: list pending or
 * failed jobs page by page, and remove or retry a failed one.
 *
 * @module
 */
import { createRoute, type z } from "@hono/zod-openapi";
import type { JobListing } from "../engine/jobs/mod.ts";
import { iso } from "./present.ts";
import { json, newRouter, problems, secured } from "./router.ts";
import { JobIdParam, JobPageSchema, JobQuery, JobSchema } from "./schemas.ts";

/** A job for the API: its kind beside the payload, times as ISO 8601. */
function presentJob(listing: JobListing): z.infer<typeof JobSchema> {
  return {
    id: listing.id,
    kind: listing.job.kind,
    job: { ...listing.job },
    runs: listing.runs,
    ...(listing.lastError !== undefined ? { lastError: listing.lastError } : {}),
    ...(listing.dueAt !== undefined ? { dueAt: iso(listing.dueAt) } : {}),
    ...(listing.failedAt !== undefined ? { failedAt: iso(listing.failedAt) } : {}),
  };
}

const listJobs = createRoute({
  method: "get",
  path: "/v1/jobs",
  operationId: "listJobs",
  ...secured,
  tags: ["jobs"],
  summary: "List pending jobs (due order) or failed jobs (attempts spent), a page at a time",
  request: { query: JobQuery },
  responses: { 200: json(JobPageSchema, "A page of jobs"), ...problems(400) },
});

const deleteFailed = createRoute({
  method: "delete",
  path: "/v1/jobs/failed/{id}",
  operationId: "deleteFailedJob",
  ...secured,
  tags: ["jobs"],
  summary: "Remove a failed job",
  request: { params: JobIdParam },
  responses: { 204: { description: "Removed" }, ...problems(400, 404) },
});

const retryFailed = createRoute({
  method: "post",
  path: "/v1/jobs/failed/{id}/retry",
  operationId: "retryFailedJob",
  ...secured,
  tags: ["jobs"],
  summary: "Put a failed job back as pending, due now, with its runs reset to 0",
  request: { params: JobIdParam },
  responses: { 200: json(JobSchema, "The job, pending again"), ...problems(400, 404) },
});

/** The jobs router. */
export const jobsRouter = newRouter()
  .openapi(listJobs, async (c) => {
    const { state, limit, cursor } = c.req.valid("query");
    const page = await c.get("broker").scheduler.list({
      state: state ?? "pending",
      ...(limit !== undefined ? { limit } : {}),
      ...(cursor !== undefined ? { cursor } : {}),
    });
    return c.json({
      jobs: page.jobs.map(presentJob),
      ...(page.cursor !== undefined ? { cursor: page.cursor } : {}),
    }, 200);
  })
  .openapi(deleteFailed, async (c) => {
    await c.get("broker").scheduler.removeFailed(c.req.valid("param").id);
    return c.body(null, 204);
  })
  .openapi(retryFailed, async (c) => {
    const job = await c.get("broker").scheduler.retryFailed(c.req.valid("param").id);
    return c.json(presentJob(job), 200);
  });
