/**
 * URLs as shown by the API: without user name or password. New URLs with
 * credentials are refused by the policy; this keeps one stored before that
 * (in a group, a transaction's history) from being echoed back.
 *
 * @module
 */

/**
 * `url` without its user name and password (anything that does not parse is
 * returned as it is: it holds no parsed credentials to strip).
 *
 * @example
 * ```ts
 * import { withoutCredentials } from "./redact.ts";
 * withoutCredentials("http://alice:pa55@127.0.0.1:9000/check"); // "http://127.0.0.1:9000/check"
 * ```
 */
export function withoutCredentials(url: string): string {
  if (!URL.canParse(url)) return url;
  const parsed = new URL(url);
  if (parsed.username === "" && parsed.password === "") return url;
  parsed.username = "";
  parsed.password = "";
  return parsed.href;
}

/**
 * An event's data with the URLs it carries (`checkUrl`, `url`) shown without
 * credentials; other data is returned as it is.
 *
 * @example
 * ```ts
 * import { redactUrls } from "./redact.ts";
 * redactUrls({ checkUrl: "http://u:p@h/" }); // { checkUrl: "http://h/" }
 * ```
 */
export function redactUrls(data: unknown): unknown {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return data;
  const record = data as Record<string, unknown>;
  let changed: Record<string, unknown> | undefined;
  for (const key of ["checkUrl", "url"]) {
    const value = record[key];
    if (typeof value !== "string") continue;
    const shown = withoutCredentials(value);
    if (shown !== value) (changed ??= { ...record })[key] = shown;
  }
  return changed ?? data;
}
