/**
 * The orchestrator's few calls to the broker, made before a phase is timed:
 * create the topic and the consumer groups.
 *
 * @module
 */
import { authHeaders } from "./http_client.ts";
import type { GroupSpec } from "./workload.ts";

async function put(url: string, body?: unknown): Promise<void> {
  const res = await fetch(url, {
    method: "PUT",
    headers: {
      ...authHeaders(),
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (res.status !== 200 && res.status !== 201) {
    throw new Error(`Cannot PUT ${url}: the broker answered ${res.status} ${text}`);
  }
}

/**
 * `PUT /v1/topics/{topic}`.
 *
 * @example
 * ```ts ignore
 * import { createTopic } from "./broker_api.ts";
 * await createTopic("http://127.0.0.1:8000", "Accompaniment");
 * ```
 */
export async function createTopic(baseUrl: string, topic: string): Promise<void> {
  await put(`${baseUrl}/v1/topics/${topic}`);
}

/**
 * `PUT /v1/groups/{group}` for each group, subscribed to `topic` with its tags.
 *
 * @example
 * ```ts ignore
 * import { createGroups } from "./broker_api.ts";
 * await createGroups("http://127.0.0.1:8000", "Accompaniment", [{ name: "ops", tags: "Ops" }]);
 * ```
 */
export async function createGroups(
  baseUrl: string,
  topic: string,
  groups: readonly GroupSpec[],
): Promise<void> {
  for (const group of groups) {
    await put(`${baseUrl}/v1/groups/${group.name}`, {
      subscriptions: [{ topic, tags: group.tags }],
    });
  }
}
