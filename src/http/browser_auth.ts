/**
 * Authentication a browser can give: a browser's WebSocket cannot send an
 * `Authorization` header, and a page opened from a link cannot either, so
 * a token is also taken from a `token` query parameter and from a cookie.
 * A page answered to a query token sets that cookie and sends the browser
 * to the same address without the token, so the token leaves the address
 * bar and the page's own requests (its script, its WebSocket) carry the
 * cookie. What the token may open is decided as for the API (the pages and
 * `/inspect` need `read`; see `auth/route_permissions.ts`).
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { authorize, bearerToken, type Unidentified } from "./auth/middleware.ts";
import { ANONYMOUS, type Principal, TokenSet } from "./auth/token_set.ts";
import type { AppEnv } from "./router.ts";

/** The cookie that carries the token once a page was opened with `?token=`. */
export const TOKEN_COOKIE = "escrow_token";

const HINT = ", or open the page once with ?token=<token> (the page keeps it in a cookie)";

/**
 * A middleware that lets a request through when it carries a token of
 * `tokens` (a string: one admin token, as `ESCROW_API_TOKEN` gives) as
 * `Authorization: Bearer`, as the `token` query parameter or in the
 * {@linkcode TOKEN_COOKIE} cookie, and the route's permission; 401 or 403
 * otherwise. A GET page request with a query token gets the cookie and a
 * redirect to itself without the token; a WebSocket handshake is let
 * through as it is. With no tokens every request goes on as the anonymous
 * admin.
 *
 * @example
 * ```ts
 * import { browserAuth } from "./browser_auth.ts";
 * const auth = browserAuth("s3cret");
 * ```
 */
export function browserAuth(tokens: TokenSet | string): MiddlewareHandler<AppEnv> {
  const set = typeof tokens === "string" ? TokenSet.admin(tokens) : tokens;
  return async (c, next) => {
    if (set.size === 0) {
      c.set("principal", ANONYMOUS);
      return await next();
    }
    const header = bearerToken(c.req.header("authorization"));
    const query = c.req.query("token");
    const cookie = getCookie(c, TOKEN_COOKIE);
    let who: Principal | Unidentified = header === "malformed" ? "malformed" : "missing";
    let given: string | undefined;
    for (const token of [header, query, cookie]) {
      if (token === undefined || token === "missing" || token === "malformed") continue;
      const principal = set.identify(token);
      if (principal) {
        [who, given] = [principal, token];
        break;
      }
      if (who === "missing") who = "unknown";
    }
    const result = await authorize(c, who, HINT);
    if (result instanceof Response) return result;
    c.set("principal", result);
    const url = new URL(c.req.url);
    if (
      given !== undefined && given === query && c.req.method === "GET" &&
      c.req.header("upgrade") !== "websocket"
    ) {
      setCookie(c, TOKEN_COOKIE, given, {
        path: "/",
        httpOnly: true,
        sameSite: "Strict",
        secure: url.protocol === "https:",
      });
      url.searchParams.delete("token");
      return c.redirect(`${url.pathname}${url.search}`, 303);
    }
    await next();
  };
}
