/**
 * Pinned connections: an outbound call connects to the address the policy
 * has just checked, never to whatever a second DNS lookup would answer.
 *
 * - **http**: a `Deno.createHttpClient` whose transport is a TCP socket to
 *   the checked address (`proxy: { transport: "tcp" }`); the request keeps
 *   its URL, so the `Host` header is the URL's host.
 * - **https**: a TCP proxy cannot carry TLS (Deno speaks plain HTTP over it),
 *   and connecting to the IP would check the certificate against the IP. So
 *   each https call gets a one-use `CONNECT` tunnel on 127.0.0.1 that
 *   accepts exactly the URL's `host:port` with a one-use token and connects
 *   to the checked address; `fetch` then runs TLS through it end to end,
 *   with SNI and certificate verification for the URL's host name.
 *
 * Either client ignores `HTTP_PROXY`/`HTTPS_PROXY`: a proxy of the
 * environment would resolve the name itself, after the check.
 *
 * Where the platform offers no `Deno.createHttpClient`, or refuses a
 * listener on 127.0.0.1 for the tunnel (a sandboxed edge runtime), the call
 * goes out with plain `fetch` right after its check: the policy still holds,
 * only the window between the check and the connection is not closed.
 *
 * @module
 */
import type { CheckedTarget } from "./policy.ts";

/** A response and the way to release what the call held (its client, its tunnel). */
export interface PinnedResponse {
  readonly response: Response;
  /** Closes the call's HTTP client and tunnel; call once the body is read or dropped. */
  release(): void;
}

/** Sends a request over a pinned connection to one of `target`'s addresses. */
export type PinnedFetch = (
  request: Request,
  target: CheckedTarget,
  signal: AbortSignal,
) => Promise<PinnedResponse>;

/** Most bytes of a CONNECT request head the tunnel reads. */
const MAX_CONNECT_HEAD = 8 * 1024;

/** Options of {@linkcode createPinnedFetch}. */
export interface PinnedFetchOptions {
  /** Extra root certificates (PEM) trusted for https. @default {[]} (the system's roots) */
  readonly caCerts?: readonly string[];
}

/**
 * The broker's transport: http through a TCP socket to the checked address,
 * https through a one-use CONNECT tunnel to it.
 *
 * @example
 * ```ts
 * import { createPinnedFetch } from "./pinned_fetch.ts";
 * import { OutboundPolicy } from "./policy.ts";
 * const pinned = createPinnedFetch();
 * const target = await new OutboundPolicy().check("http://127.0.0.1:9000/check");
 * const { response, release } = await pinned(
 *   new Request(target.url, { method: "POST", body: "{}" }),
 *   target,
 *   AbortSignal.timeout(5_000),
 * );
 * await response.body?.cancel();
 * release();
 * ```
 */
export function createPinnedFetch(options: PinnedFetchOptions = {}): PinnedFetch {
  const caCerts = options.caCerts ? { caCerts: [...options.caCerts] } : {};
  return async (request, target, signal) => {
    const address = target.addresses[0];
    if (address === undefined) {
      throw new TypeError(`Cannot connect to ${target.url.origin}: no address was checked`);
    }
    if (typeof Deno.createHttpClient !== "function") return await unpinned(request, signal);
    if (target.url.protocol === "http:") {
      const client = Deno.createHttpClient({
        // Deno parses the TCP transport as a URI: an IPv6 address goes in brackets.
        proxy: {
          transport: "tcp",
          hostname: address.includes(":") ? `[${address}]` : address,
          port: target.port,
        },
      });
      return await send(request, client, signal, () => client.close());
    }
    let tunnel: Tunnel;
    try {
      tunnel = new Tunnel(target.url.hostname, target.port, address);
    } catch {
      return await unpinned(request, signal);
    }
    const client = Deno.createHttpClient({
      ...caCerts,
      proxy: {
        url: `http://127.0.0.1:${tunnel.port}`,
        basicAuth: { username: tunnel.token, password: "pinned" },
      },
    });
    return await send(request, client, signal, () => {
      client.close();
      tunnel.close();
    });
  };
}

/**
 * {@linkcode createPinnedFetch} with the system's root certificates.
 *
 * @example
 * ```ts
 * import { pinnedFetch } from "./pinned_fetch.ts";
 * typeof pinnedFetch; // "function"
 * ```
 */
export const pinnedFetch: PinnedFetch = createPinnedFetch();

/** The fallback where pinning is not available: plain `fetch`, no redirects followed. */
async function unpinned(request: Request, signal: AbortSignal): Promise<PinnedResponse> {
  const response = await fetch(request, { signal, redirect: "manual" });
  return { response, release: () => {} };
}

async function send(
  request: Request,
  client: Deno.HttpClient,
  signal: AbortSignal,
  release: () => void,
): Promise<PinnedResponse> {
  let released = false;
  const once = () => {
    if (released) return;
    released = true;
    release();
  };
  try {
    const response = await fetch(request, { client, signal, redirect: "manual" });
    return { response, release: once };
  } catch (error) {
    once();
    throw error;
  }
}

/**
 * A one-use CONNECT proxy on 127.0.0.1: it accepts one tunnel, to `host:port`
 * only, carrying its token, and connects it to `address`.
 */
class Tunnel {
  readonly token = crypto.randomUUID();
  readonly #listener: Deno.TcpListener;
  readonly #conns = new Set<Deno.Conn>();
  #closed = false;

  constructor(host: string, port: number, address: string) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#accept(`${host}:${port}`, address, port).catch(() => {});
  }

  get port(): number {
    return this.#listener.addr.port;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener.close();
    } catch { /* already closed */ }
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  }

  async #accept(authority: string, address: string, port: number): Promise<void> {
    for await (const conn of this.#listener) {
      this.#conns.add(conn);
      this.#serve(conn, authority, address, port).catch(() => {
        try {
          conn.close();
        } catch { /* already closed */ }
      });
    }
  }

  async #serve(conn: Deno.Conn, authority: string, address: string, port: number): Promise<void> {
    const { head, rest } = await readHead(conn);
    const lines = head.split("\r\n");
    const [method, target] = (lines[0] ?? "").split(" ");
    const auth = lines.find((l) => /^proxy-authorization:/i.test(l))?.replace(/^[^:]*:\s*/, "");
    const expected = `Basic ${btoa(`${this.token}:pinned`)}`;
    // Only the one tunnel this call asked for: its host:port, with its token.
    if (
      method !== "CONNECT" || target?.toLowerCase() !== authority.toLowerCase() || auth !== expected
    ) {
      await conn.write(new TextEncoder().encode("HTTP/1.1 403 Forbidden\r\n\r\n"));
      conn.close();
      return;
    }
    const upstream = await Deno.connect({ hostname: address, port });
    this.#conns.add(upstream);
    await conn.write(new TextEncoder().encode("HTTP/1.1 200 Connection Established\r\n\r\n"));
    if (rest.length > 0) await upstream.write(rest);
    await Promise.allSettled([
      conn.readable.pipeTo(upstream.writable),
      upstream.readable.pipeTo(conn.writable),
    ]);
  }
}

/** Reads a request head up to its blank line; what came after it is `rest`. */
async function readHead(conn: Deno.Conn): Promise<{ head: string; rest: Uint8Array }> {
  const buffer = new Uint8Array(MAX_CONNECT_HEAD);
  let filled = 0;
  while (filled < buffer.length) {
    const n = await conn.read(buffer.subarray(filled));
    if (n === null) break;
    filled += n;
    const end = endOfHead(buffer.subarray(0, filled));
    if (end !== -1) {
      return {
        head: new TextDecoder().decode(buffer.subarray(0, end)),
        rest: buffer.slice(end + 4, filled),
      };
    }
  }
  throw new Error("Cannot read the CONNECT request: no end of head");
}

/** Where `\r\n\r\n` starts in `bytes`, or -1. */
function endOfHead(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}
