/**
 * Authentication a browser can give: a browser's WebSocket cannot send an
 * `Authorization` header, and a page opened from a link cannot either, so
 * the API token is also taken from a `token` query parameter and from a
 * cookie. A page answered to a query token sets that cookie and sends the
 * browser to the same address without the token, so the token leaves the
 * address bar and the page's own requests (its script, its WebSocket) carry
 * the cookie.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { timingSafeEqual } from "hono/utils/buffer";
import { problemResponse } from "./problem.ts";
import type { AppEnv } from "./router.ts";

/** The cookie that carries the token once a page was opened with `?token=`. */
export const TOKEN_COOKIE = "escrow_token";

/**
 * A middleware that lets a request through when it carries `token` as
 * `Authorization: Bearer`, as the `token` query parameter or in the
 * {@linkcode TOKEN_COOKIE} cookie, and answers 401 otherwise. A GET page
 * request with a query token gets the cookie and a redirect to itself
 * without the token; a WebSocket handshake is let through as it is.
 *
 * @example
 * ```ts
 * import { browserAuth } from "./browser_auth.ts";
 * const auth = browserAuth("s3cret");
 * ```
 */
export function browserAuth(token: string): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization");
    const bearer = header?.match(/^Bearer\s+(.+)$/i)?.[1];
    const query = c.req.query("token");
    const cookie = getCookie(c, TOKEN_COOKIE);
    for (const given of [bearer, query, cookie]) {
      if (given === undefined || !(await timingSafeEqual(given, token))) continue;
      const url = new URL(c.req.url);
      if (given === query && c.req.method === "GET" && c.req.header("upgrade") !== "websocket") {
        setCookie(c, TOKEN_COOKIE, token, {
          path: "/",
          httpOnly: true,
          sameSite: "Strict",
          secure: url.protocol === "https:",
        });
        url.searchParams.delete("token");
        return c.redirect(`${url.pathname}${url.search}`, 303);
      }
      await next();
      return;
    }
    const res = problemResponse({
      type: "https://escrow.dev/problems/unauthorized",
      title: "Unauthorized",
      status: 401,
      detail: `Cannot ${c.req.method} ${c.req.path}: open it once with ?token=<ESCROW_API_TOKEN> ` +
        "(the page keeps it in a cookie) or send Authorization: Bearer <ESCROW_API_TOKEN>",
    }, c);
    res.headers.set("WWW-Authenticate", 'Bearer realm="escrow"');
    return res;
  };
}
