/**
 * The client side's HTTP: JSON posts over one keep-alive connection pool per
 * process, and request bodies built from a padding string made once, so the
 * client processes spend as little of the shared CPU as they can.
 *
 * @module
 */
import type { Tag } from "./workload.ts";

const TOKEN = Deno.env.get("ESCROW_API_TOKEN");
const AUTH_HEADERS: Record<string, string> = TOKEN ? { authorization: `Bearer ${TOKEN}` } : {};
const JSON_HEADERS = { ...AUTH_HEADERS, "content-type": "application/json" };

/**
 * The headers every `/v1` request carries: `Authorization: Bearer` when
 * `ESCROW_API_TOKEN` is set (the broker then requires it), else none.
 *
 * @example
 * ```ts
 * import { authHeaders } from "./http_client.ts";
 * console.log(typeof authHeaders()); // "object"
 * ```
 */
export function authHeaders(): Record<string, string> {
  return AUTH_HEADERS;
}

/** A response's status and its text, read whole so the connection is reused. */
export interface PostAnswer {
  readonly status: number;
  readonly text: string;
}

/**
 * POSTs `body` (JSON text, or nothing) to `url` and reads the whole answer.
 *
 * @example
 * ```ts ignore
 * import { postJson } from "./http_client.ts";
 * const answer = await postJson("http://127.0.0.1:8000/v1/groups/ops/receive", '{"max":16}');
 * console.log(answer.status);
 * ```
 */
export async function postJson(
  url: string,
  body: string | undefined,
  signal?: AbortSignal,
): Promise<PostAnswer> {
  const res = await fetch(url, {
    method: "POST",
    headers: body !== undefined ? JSON_HEADERS : AUTH_HEADERS,
    ...(body !== undefined ? { body } : {}),
    ...(signal ? { signal } : {}),
  });
  return { status: res.status, text: await res.text() };
}

/**
 * Opens up to `connections` keep-alive connections to `baseUrl` by sending
 * that many `GET /healthz` at once, so the timed part does not pay for them.
 *
 * @example
 * ```ts ignore
 * import { warmUp } from "./http_client.ts";
 * await warmUp("http://127.0.0.1:8000", 64);
 * ```
 */
export async function warmUp(baseUrl: string, connections: number): Promise<void> {
  await Promise.all(
    Array.from({ length: connections }, async () => {
      const res = await fetch(`${baseUrl}/healthz`);
      await res.body?.cancel();
    }),
  );
}

/**
 * A run of `x` long enough that a message body built by
 * {@linkcode messageRequest} is about `bodyBytes` of JSON.
 *
 * @example
 * ```ts
 * import { messagePadding } from "./http_client.ts";
 * console.log(messagePadding(1024).length > 900); // true
 * ```
 */
export function messagePadding(bodyBytes: number): string {
  const overhead = JSON.stringify({ seq: 100000, sentAt: 1.7e12 + 0.123456, pad: "" }).length;
  return "x".repeat(Math.max(0, bodyBytes - overhead));
}

/**
 * The JSON text of a publish or prepare request: `tag` and a body holding
 * the message's index, its send time (epoch ms) and `padding`.
 *
 * @example
 * ```ts
 * import { messageRequest } from "./http_client.ts";
 * const request = JSON.parse(messageRequest(7, "Ops", 1.7e12, "xx"));
 * console.log(request.tag, request.body.seq); // "Ops" 7
 * ```
 */
export function messageRequest(index: number, tag: Tag, sentAt: number, padding: string): string {
  return `{"tag":"${tag}","body":{"seq":${index},"sentAt":${sentAt},"pad":"${padding}"}}`;
}

/**
 * Keeps the first few failure descriptions and counts them all.
 *
 * @example
 * ```ts
 * import { FailureLog } from "./http_client.ts";
 * const failures = new FailureLog(1);
 * failures.add("a");
 * failures.add("b");
 * console.log(failures.count, failures.samples); // 2 ["a"]
 * ```
 */
export class FailureLog {
  /** How many failures were added. */
  count = 0;
  /** The first `keep` of them. */
  readonly samples: string[] = [];
  readonly #keep: number;

  /** Keeps up to `keep` descriptions. */
  constructor(keep = 5) {
    this.#keep = keep;
  }

  /** Counts a failure, keeping its description while there is room. */
  add(description: string): void {
    this.count++;
    if (this.samples.length < this.#keep) this.samples.push(description.slice(0, 300));
  }

  /** Counts a failed request: an unexpected status or a thrown error. */
  addRequest(what: string, outcome: PostAnswer | unknown): void {
    if (outcome && typeof outcome === "object" && "status" in outcome && "text" in outcome) {
      const answer = outcome as PostAnswer;
      this.add(`${what}: ${answer.status} ${answer.text}`);
    } else {
      this.add(`${what}: ${outcome instanceof Error ? outcome.message : String(outcome)}`);
    }
  }
}
