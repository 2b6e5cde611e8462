/**
 * The dashboard at `/`: server-rendered pages (hono/jsx) over the broker's
 * read APIs, live over SSE, with dead-letter redrive behind a confirmation.
 * Everything it loads is served by the broker itself.
 *
 * Routes: `/` (overview), `/messages/{id}` (timeline and machines),
 * `/transactions/{id}` (its message), `/search?q=`, `POST /dashboard/redrive`,
 * `/dashboard/events` (SSE), `/dashboard/assets/{file}`.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { Hono } from "hono";
import { csrf } from "hono/csrf";
import { NotFoundError } from "../../domain/errors.ts";
import { grants, scoped } from "../auth/permission.ts";
import type { Principal } from "../auth/token_set.ts";
import type { AppEnv } from "../router.ts";
import { ASSETS, readAsset } from "./assets.ts";
import { type LiveOptions, liveOverview } from "./live.ts";
import { MessagePage } from "./message_page.tsx";
import { NoticePage } from "./notice_page.tsx";
import { readOverview } from "./overview.ts";
import { OverviewPage } from "./overview_page.tsx";
import { RedriveConfirmPage, type RedriveRequest } from "./redrive_page.tsx";
import { MAX_QUERY_LENGTH, search } from "./search.ts";
import { SearchPage } from "./search_page.tsx";

/** Options of {@linkcode createDashboard}. */
export interface DashboardOptions {
  /**
   * Authentication a browser can give (see `../browser_auth.ts`: a `token`
   * query parameter once, then a cookie); when set, every page needs it.
   * @default {undefined} (open)
   */
  readonly auth?: MiddlewareHandler<AppEnv>;
  /** Tuning of the live stream. @default {{}} */
  readonly live?: LiveOptions;
}

const MAX_NAME = 200;

function deniedPage(c: Context<AppEnv>) {
  c.status(401);
  return c.html(
    <NoticePage title="Token needed">
      <p>
        This broker is protected (it has tokens: <code>ESCROW_TOKENS</code>,{" "}
        <code>ESCROW_TOKENS_FILE</code> or{" "}
        <code>ESCROW_API_TOKEN</code>). Open the dashboard once as <code>/?token=YOUR_TOKEN</code>
        {" "}
        with a token that has <code>read</code>: the browser keeps it in an HttpOnly cookie.
      </p>
    </NoticePage>,
  );
}

function forbiddenPage(c: Context<AppEnv>, detail: string) {
  c.status(403);
  return c.html(
    <NoticePage title="Permission needed">
      <p>{detail}</p>
    </NoticePage>,
  );
}

function notFound(c: Context<AppEnv>, what: string) {
  c.status(404);
  return c.html(
    <NoticePage title="Not found">
      <p>{what}</p>
    </NoticePage>,
  );
}

/** Reads a redrive form: one message (`only`), the ticked ones, or all; undefined when none was picked. */
function redriveRequest(
  form: Record<string, string | File | (string | File)[]>,
): RedriveRequest | string {
  const text = (value: unknown) => (typeof value === "string" ? value : undefined);
  const group = text(form.group);
  if (!group || group.length > MAX_NAME) return "The form names no consumer group.";
  const only = text(form.only);
  if (only) return { group, messageIds: [only] };
  if (text(form.scope) === "all") return { group };
  const picked = ([] as unknown[]).concat(form.messageId ?? [])
    .map(text).filter((id): id is string => !!id && id.length <= MAX_NAME);
  if (!picked.length) return "Select at least one dead letter, or redrive all.";
  return { group, messageIds: [...new Set(picked)] };
}

/**
 * The dashboard's routes, to mount at `/`.
 *
 * @example
 * ```ts
 * import { createDashboard } from "./mod.tsx";
 * const dashboard = createDashboard();
 * // app.route("/", dashboard);
 * ```
 */
export function createDashboard(options: DashboardOptions = {}): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const clock = options.live?.clock ?? Date.now;
  app.get("/dashboard/assets/:file", async (c) => {
    const asset = Object.hasOwn(ASSETS, c.req.param("file"))
      ? ASSETS[c.req.param("file")]
      : undefined;
    if (!asset) return notFound(c, "No such asset.");
    return c.body(await readAsset(asset.file), 200, {
      "content-type": asset.type,
      "cache-control": "public, max-age=300",
    });
  });
  const auth = options.auth;
  if (auth) {
    // The same check as the API's; a person who opens a page gets a page saying what to do.
    const guard: MiddlewareHandler<AppEnv> = async (c, next) => {
      const denied = await auth(c, next);
      if (denied instanceof Response && denied.status === 401) return deniedPage(c);
      if (denied instanceof Response && denied.status === 403) {
        return forbiddenPage(c, (await denied.json()).detail);
      }
      return denied;
    };
    for (const path of ["/", "/messages/*", "/transactions/*", "/search", "/dashboard/events"]) {
      app.use(path, guard);
    }
    app.use("/dashboard/redrive", guard);
  }
  app.use("/dashboard/redrive", csrf());

  app.get("/", async (c) => {
    const overview = await readOverview(c.get("broker"), clock());
    const redriven = c.req.query("redriven");
    const group = c.req.query("group");
    const notice = redriven !== undefined && group
      ? `Redrove ${Number(redriven) || 0} dead letter${redriven === "1" ? "" : "s"} of group ${
        group.slice(0, MAX_NAME)
      }: they are delivered again from attempt 1.`
      : undefined;
    return c.html(<OverviewPage overview={overview} {...(notice ? { notice } : {})} />);
  });

  app.get("/dashboard/events", (c) => liveOverview(c, c.get("broker"), options.live ?? {}));

  app.get("/messages/:id", async (c) => {
    const id = c.req.param("id").slice(0, MAX_QUERY_LENGTH);
    try {
      const view = await c.get("broker").messages.get(id);
      return c.html(<MessagePage view={view} now={clock()} />);
    } catch (error) {
      if (error instanceof NotFoundError) return notFound(c, `No message ${id}.`);
      throw error;
    }
  });

  app.get("/transactions/:id", async (c) => {
    const id = c.req.param("id").slice(0, MAX_QUERY_LENGTH);
    try {
      const tx = await c.get("broker").transactions.get(id);
      return c.redirect(`/messages/${encodeURIComponent(tx.messageId)}`, 303);
    } catch (error) {
      if (error instanceof NotFoundError) return notFound(c, `No transaction ${id}.`);
      throw error;
    }
  });

  app.get("/search", async (c) => {
    const query = (c.req.query("q") ?? "").trim().slice(0, MAX_QUERY_LENGTH);
    if (!query) return c.redirect("/", 303);
    const result = await search(c.get("broker"), query);
    if (result.kind === "message") {
      return c.redirect(`/messages/${encodeURIComponent(result.messageId)}`, 303);
    }
    return c.html(<SearchPage query={query} messages={result.messages} />);
  });

  app.post("/dashboard/redrive", async (c) => {
    const form = await c.req.parseBody({ all: true });
    const request = redriveRequest(form);
    if (typeof request === "string") {
      c.status(400);
      return c.html(
        <NoticePage title="Nothing to redrive">
          <p>{request}</p>
        </NoticePage>,
      );
    }
    // The auth middleware let any valid token in; the group is named only in the form.
    const principal = c.get("principal") as Principal | undefined;
    const needed = scoped("consume", request.group);
    if (principal && !grants(principal.permissions, needed)) {
      return forbiddenPage(c, `Token "${principal.name}" lacks ${needed}: it cannot redrive.`);
    }
    const broker = c.get("broker");
    try {
      if (form.confirm !== "yes") {
        const stats = await broker.groups.stats(request.group);
        return c.html(<RedriveConfirmPage request={request} deadCount={stats.deadLettered} />);
      }
      const redriven = await broker.deliveries.redrive(request.group, request.messageIds);
      const query = new URLSearchParams({ redriven: String(redriven), group: request.group });
      return c.redirect(`/?${query}#dead-letters`, 303);
    } catch (error) {
      if (error instanceof NotFoundError) return notFound(c, `No group ${request.group}.`);
      throw error;
    }
  });
  return app;
}
