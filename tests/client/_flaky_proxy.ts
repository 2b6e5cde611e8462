/**
 * A TCP proxy on 127.0.0.1 in front of the broker that loses answers: for
 * its first `drops` connections it forwards the request, waits for the
 * broker's response (so the broker has handled the request), then closes
 * the client's connection, either without sending anything (`fetch` throws,
 * as when a network drops a response) or after the status line and headers
 * only (`fetch` resolves and reading the body fails, as when a connection
 * breaks mid-answer). Later connections are piped both ways untouched.
 *
 * @module
 */

/** A running proxy. */
export interface FlakyProxy extends AsyncDisposable {
  /** Base URL of the proxy. */
  readonly url: string;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Answers the broker gave that the client never got. */
  readonly dropped: number;
}

/** How an answer is lost. */
export type LossMode = "drop" | "cutAfterHeaders";

const HEADERS_END = [13, 10, 13, 10];

/** Index just past the first blank line ending the headers, or -1. */
function headersEnd(bytes: Uint8Array): number {
  outer: for (let i = 0; i + HEADERS_END.length <= bytes.length; i++) {
    for (let j = 0; j < HEADERS_END.length; j++) {
      if (bytes[i + j] !== HEADERS_END[j]) continue outer;
    }
    return i + HEADERS_END.length;
  }
  return -1;
}

/**
 * Starts a proxy to `127.0.0.1:targetPort` that loses the answers of its
 * first `drops` connections, as `mode` says.
 *
 * @example
 * ```ts
 * import { startFlakyProxy } from "./_flaky_proxy.ts";
 * await using proxy = startFlakyProxy(8000, 1);
 * console.log(proxy.url); // http://127.0.0.1:PORT
 * ```
 */
export function startFlakyProxy(
  targetPort: number,
  drops: number,
  mode: LossMode = "drop",
): FlakyProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  let connections = 0;
  let dropped = 0;
  let dropsLeft = drops;

  const close = (conn: Deno.Conn) => {
    if (!open.delete(conn)) return;
    try {
      conn.close();
    } catch {
      // Already closed by a finished pipe.
    }
  };

  const relay = async (client: Deno.Conn) => {
    open.add(client);
    const drop = dropsLeft > 0;
    if (drop) dropsLeft--;
    let upstream: Deno.Conn | undefined;
    try {
      upstream = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
      open.add(upstream);
      const up = upstream;
      const toBroker = client.readable.pipeTo(up.writable, { preventClose: true })
        .catch(() => {});
      if (drop) {
        // Read the broker's answer up to the end of its headers: it handled the request.
        const reader = up.readable.getReader();
        let head = new Uint8Array(0);
        let end = -1;
        while (end < 0) {
          const chunk = await reader.read();
          if (chunk.done) break;
          head = new Uint8Array([...head, ...chunk.value]);
          end = headersEnd(head);
        }
        reader.releaseLock();
        if (end >= 0) {
          dropped++;
          if (mode === "cutAfterHeaders") {
            const writer = client.writable.getWriter();
            await writer.write(head.subarray(0, end));
            writer.releaseLock();
          }
        }
      } else {
        await up.readable.pipeTo(client.writable, { preventClose: true }).catch(() => {});
      }
      close(client);
      close(up);
      await toBroker;
    } finally {
      close(client);
      if (upstream) close(upstream);
    }
  };

  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        connections++;
        const task = relay(conn).catch(() => {}).finally(() => tasks.delete(task));
        tasks.add(task);
      }
    } catch {
      // The listener was closed.
    }
  })();

  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    get connections() {
      return connections;
    },
    get dropped() {
      return dropped;
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      for (const conn of [...open]) close(conn);
      await Promise.allSettled([...tasks]);
    },
  };
}
