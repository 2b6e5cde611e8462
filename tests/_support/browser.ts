/**
 * What the real-browser tests share: where Debian's Chromium is, whether a
 * browser test may be skipped (only where Chromium is missing and this is
 * not CI), running a browser scenario as a child process (playwright-core
 * needs permissions the test runner does not grant), and a JSON caller of
 * the served API with a bounded wait.
 *
 * @module
 */
import { assert } from "@std/assert/assert";
import { fromFileUrl } from "@std/path/from-file-url";

/** Debian's Chromium (`apt-get install -y chromium`; `.ci/run` installs it). */
export const CHROMIUM = "/usr/bin/chromium";

/**
 * True where a browser test may be skipped: Chromium is missing and this
 * is not CI (in CI a browser test always runs, and fails without Chromium).
 *
 * @example
 * ```ts
 * import { browserTestSkipped } from "./browser.ts";
 * Deno.test({ name: "in Chromium …", ignore: browserTestSkipped(), fn() {} });
 * ```
 */
export function browserTestSkipped(): boolean {
  let present = false;
  try {
    present = Deno.statSync(CHROMIUM).isFile;
  } catch {
    present = false;
  }
  return !present && Deno.env.get("CI") !== "true";
}

/**
 * Runs a browser scenario script with every permission, failing the test
 * unless it exits 0 within `timeoutMs`; returns what it printed.
 *
 * @example
 * ```ts
 * import { runScenario } from "./browser.ts";
 * const out = await runScenario(new URL("../http/_inspector_browser.ts", import.meta.url));
 * ```
 */
export async function runScenario(script: URL, timeoutMs = 120_000): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", fromFileUrl(script)],
    cwd: fromFileUrl(new URL("../../", import.meta.url)),
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const out = new TextDecoder().decode(stdout);
  const err = new TextDecoder().decode(stderr);
  assert(code === 0, `the browser scenario failed (exit ${code}):\n${out}\n${err}`);
  return out;
}

/** Calls the served JSON API; fails unless 2xx; answers the parsed JSON (or undefined). */
export type ApiCall = (method: string, path: string, json?: unknown) => Promise<unknown>;

/**
 * A JSON caller of the API served at `base`, each call bounded by `waitMs`.
 *
 * @example
 * ```ts
 * import { apiCaller } from "./browser.ts";
 * const call = apiCaller("http://127.0.0.1:8000", 15_000);
 * await call("PUT", "/v1/topics/Trade");
 * ```
 */
export function apiCaller(base: string, waitMs: number): ApiCall {
  return async (method, path, json) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { "content-type": "application/json" },
      ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
      signal: AbortSignal.timeout(waitMs),
    });
    const text = await res.text();
    assert(res.ok, `${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
}
