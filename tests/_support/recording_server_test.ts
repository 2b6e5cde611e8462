/**
 * The shared recording server records each request as documented and
 * answers from a function or a script, then 200; the signature helper
 * matches a known HMAC-SHA256.
 *
 * @module
 */
import { assertEquals } from "@std/assert/equals";
import { waitFor } from "../_process.ts";
import { expectedSignature, RecordingServer } from "./recording_server.ts";

Deno.test("a request is recorded with its method, path, query, headers, raw body and JSON", async () => {
  await using server = RecordingServer.serve(() => new Response(null, { status: 204 }), {
    path: "/hook",
  });
  const res = await fetch(`${server.url}?x=1`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-probe": "yes" },
    body: '{"a":1}',
  });
  await res.body?.cancel();
  assertEquals(res.status, 204);
  const [call] = server.calls;
  assertEquals(
    [call?.method, call?.path, call?.search, call?.rawBody, call?.json, call?.inProgress],
    ["POST", "/hook", "?x=1", '{"a":1}', { a: 1 }, 1],
  );
  assertEquals(call?.headers.get("x-probe"), "yes");
});

Deno.test("a body that is not JSON is kept as text with no JSON; the responder can still read it", async () => {
  await using server = RecordingServer.serve(async (_call, request) =>
    new Response(`echo ${await request.text()}`)
  );
  const res = await fetch(server.url, { method: "POST", body: "not json" });
  assertEquals(await res.text(), "echo not json");
  assertEquals([server.calls[0]?.rawBody, server.calls[0]?.json], ["not json", undefined]);
});

Deno.test("a script answers in order, then every request gets an empty 200", async () => {
  await using server = RecordingServer.serve([
    new Response("down", { status: 503 }),
    () => new Response("made", { status: 201 }),
  ]);
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await fetch(server.url);
    await res.body?.cancel();
    statuses.push(res.status);
  }
  assertEquals(statuses, [503, 201, 200]);
  assertEquals(server.calls.length, 3);
});

Deno.test("maxInProgress counts the requests answered at the same time", async () => {
  const release = Promise.withResolvers<void>();
  await using server = RecordingServer.serve(async () => {
    await release.promise;
    return new Response("ok");
  });
  const answers = Array.from({ length: 3 }, () => fetch(server.url).then((res) => res.text()));
  try {
    await waitFor(() => server.inProgress, (n) => n === 3, { what: "3 requests in progress" });
  } finally {
    release.resolve(); // else disposing would wait for the held requests
  }
  assertEquals(await Promise.all(answers), ["ok", "ok", "ok"]);
  assertEquals([server.maxInProgress, server.inProgress], [3, 0]);
});

Deno.test("expectedSignature() is v1= and the hex HMAC-SHA256 of timestamp.body", async () => {
  // Computed apart: python3 -c 'import hmac, hashlib; print(hmac.new(b"key",
  // b"1767225600.{\"a\":1}", hashlib.sha256).hexdigest())'
  assertEquals(
    await expectedSignature("key", "1767225600", '{"a":1}'),
    "v1=80f7b75f8618b9b24d72673996a625f1a43f7387a26b6739d667431724fe4d23",
  );
});
