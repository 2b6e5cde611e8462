/**
 * The outbound policy: which URLs the broker may call (check-back, push and
 * alert URLs). A URL is parsed the WHATWG way (so `0x7f000001`, `2130706433`
 * and `0177.0.0.1` all become `127.0.0.1` before anything looks at them),
 * must be http(s) without credentials, its host is resolved (an IP literal
 * as itself, `localhost` as loopback, any other name through DNS A and AAAA
 * records) and every address it resolves to must pass:
 *
 * 1. the rules that always hold: no link-local or cloud metadata address or
 *    name, no unspecified, multicast or broadcast address, IPv4 carried in
 *    IPv6 judged as that IPv4 address, and not the broker itself (its
 *    listening address and port; any local address when it listens on
 *    `0.0.0.0` or `::`);
 * 2. `ESCROW_OUTBOUND_ALLOW` when set: the host is a listed name
 *    (`hooks.example.com`, `*.example.com`), or every address lies in a
 *    listed IP or CIDR. Unset, anything else is allowed (loopback and
 *    private ranges included, so one machine runs the tutorials).
 *
 * The policy is asked twice: when a URL is stored (a refusal is a 400 naming
 * the rule) and right before each call, whose connection then goes to the
 * very address checked (see `pinned_fetch.ts`), so a DNS answer that changes
 * in between (rebinding) cannot redirect the call.
 *
 * @module
 */
import { OutboundRefusedError } from "../domain/errors.ts";
import {
  type Address,
  alwaysRefused,
  inRange,
  isLoopback,
  parseAddress,
  parseRange,
  type Range,
  unwrap,
} from "./address.ts";

/** Resolves a DNS name to its A and AAAA addresses (text form). */
export type Resolver = (hostname: string) => Promise<string[]>;

/** Where the broker itself listens. */
export interface ListeningAddress {
  readonly hostname: string;
  readonly port: number;
}

/** Options of {@linkcode OutboundPolicy}. */
export interface OutboundPolicyOptions {
  /**
   * `ESCROW_OUTBOUND_ALLOW`: comma-separated hosts, IPs and CIDRs; only these
   * may be called. @default {undefined} (anything the fixed rules allow)
   */
  readonly allow?: string;
  /** Resolves DNS names. @default {A and AAAA records through `Deno.resolveDns`} */
  readonly resolve?: Resolver;
  /** The broker's own listening address. @default {undefined} (set later with {@linkcode OutboundPolicy.listeningOn}) */
  readonly self?: ListeningAddress;
  /**
   * The machine's own addresses, refused on the broker's port when it listens
   * on all interfaces. @default {loopback plus `Deno.networkInterfaces()` when the sys permission is granted}
   */
  readonly localAddresses?: () => readonly string[];
}

/** Options of {@linkcode OutboundPolicy.check}. */
export interface CheckOptions {
  /**
   * The URL is being stored, not called: a name that does not resolve (yet)
   * passes when `ESCROW_OUTBOUND_ALLOW` is unset, since every call checks
   * again. @default {false}
   */
  readonly storing?: boolean;
}

/** A URL the policy allowed, with the addresses to connect to. */
export interface CheckedTarget {
  readonly url: URL;
  /** The port to connect to (the scheme's default when the URL has none). */
  readonly port: number;
  /**
   * Every address the host resolved to, each allowed; connect to one of
   * these. Empty only for a URL being stored whose name did not resolve.
   */
  readonly addresses: readonly string[];
}

/** Names of cloud metadata services (their addresses are refused too). */
const METADATA_NAMES = new Set([
  "metadata",
  "metadata.google.internal",
  "metadata.goog",
  "metadata.azure.internal",
  "instance-data",
  "instance-data.ec2.internal",
  "metadata.tencentyun.com",
  "metadata.platformequinix.com",
]);

/** Names that mean this machine: resolved to loopback without asking DNS. */
const LOOPBACK_NAMES = ["127.0.0.1", "::1"];

/** A name as compared: lower case, without a trailing dot. */
function normalName(hostname: string): string {
  return hostname.toLowerCase().replace(/\.$/, "");
}

/** A listed host: an exact name, or `*.suffix` for every name under it. */
type NamePattern = { readonly exact: string } | { readonly suffix: string };

/**
 * The parsed `ESCROW_OUTBOUND_ALLOW` list.
 *
 * @example
 * ```ts
 * import { parseAllowList } from "./policy.ts";
 * parseAllowList("127.0.0.0/8,::1,localhost").ranges.length; // 2
 * ```
 */
export function parseAllowList(text: string): { ranges: Range[]; names: NamePattern[] } {
  const ranges: Range[] = [];
  const names: NamePattern[] = [];
  for (const raw of text.split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    const range = parseRange(entry);
    if (range) {
      ranges.push(range);
      continue;
    }
    const name = normalName(entry);
    const label = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
    const wildcard = name.startsWith("*.");
    const labels = (wildcard ? name.slice(2) : name).split(".");
    if (entry.includes("/") || !labels.every((l) => label.test(l))) {
      throw new RangeError(
        `Cannot read ESCROW_OUTBOUND_ALLOW: current value has ${
          JSON.stringify(entry)
        } (a host name, *.domain, an IP address or a CIDR range)`,
      );
    }
    names.push(wildcard ? { suffix: name.slice(1) } : { exact: name });
  }
  return { ranges, names };
}

/** A and AAAA records through `Deno.resolveDns`; a name with neither is an error. */
async function resolveWithDns(hostname: string): Promise<string[]> {
  const [a, aaaa] = await Promise.allSettled([
    Deno.resolveDns(hostname, "A"),
    Deno.resolveDns(hostname, "AAAA"),
  ]);
  const addresses = [
    ...(a.status === "fulfilled" ? a.value : []),
    ...(aaaa.status === "fulfilled" ? aaaa.value : []),
  ];
  if (addresses.length === 0) {
    const reason = a.status === "rejected" ? a.reason : undefined;
    throw new Error(
      `no A or AAAA record${reason instanceof Error ? ` (${reason.message})` : ""}`,
    );
  }
  return addresses;
}

/** Loopback and, when the sys permission is already granted, every interface's address. */
function machineAddresses(): string[] {
  const addresses = ["127.0.0.1", "::1"];
  try {
    const granted = Deno.permissions.querySync({ name: "sys", kind: "networkInterfaces" });
    if (granted.state === "granted") {
      for (const i of Deno.networkInterfaces()) addresses.push(i.address.replace(/%.*$/, ""));
    }
  } catch { /* no interfaces known: loopback only */ }
  return addresses;
}

/** A URL as shown in an error: its origin only, since a path or query may hold a token. */
function shown(url: URL | string): string {
  if (typeof url !== "string") return url.origin;
  if (!URL.canParse(url)) return url === "a URL" ? url : "an invalid URL";
  const origin = new URL(url).origin;
  return origin === "null" ? "a URL" : origin;
}

/**
 * Decides which URLs the broker may call.
 *
 * @example
 * ```ts
 * import { OutboundPolicy } from "./policy.ts";
 * const policy = new OutboundPolicy({ allow: "127.0.0.0/8" });
 * const target = await policy.check("http://127.0.0.1:9000/check");
 * console.log(target.addresses); // ["127.0.0.1"]
 * await policy.check("http://169.254.169.254/").catch((e) => console.log(e.rule)); // "link-local"
 * ```
 */
export class OutboundPolicy {
  readonly #allow: { ranges: Range[]; names: NamePattern[] } | undefined;
  readonly #resolve: Resolver;
  readonly #localAddresses: () => readonly string[];
  #self: ListeningAddress | undefined;

  /** Builds the policy; an invalid `allow` list throws a `RangeError`. */
  constructor(options: OutboundPolicyOptions = {}) {
    this.#allow = options.allow !== undefined && options.allow.trim() !== ""
      ? parseAllowList(options.allow)
      : undefined;
    this.#resolve = options.resolve ?? resolveWithDns;
    this.#localAddresses = options.localAddresses ?? machineAddresses;
    this.#self = options.self;
  }

  /** Whether `ESCROW_OUTBOUND_ALLOW` restricts calls (else only the fixed rules do). */
  get restricted(): boolean {
    return this.#allow !== undefined;
  }

  /** Tells the policy where the broker listens, once it does: calls to it are refused. */
  listeningOn(self: ListeningAddress): void {
    this.#self = self;
  }

  /**
   * Checks `url` (resolving its host) and returns where to connect.
   *
   * @param url The URL to call.
   * @param field The request field it came from, named in the error. @default {"url"}
   * @throws {OutboundRefusedError} naming the rule that refused it.
   */
  async check(url: string, field = "url", options: CheckOptions = {}): Promise<CheckedTarget> {
    const refuse = (rule: string, reason: string, where: URL | string = url): never => {
      throw new OutboundRefusedError(`Cannot call ${shown(where)}: ${reason}`, { field, rule });
    };
    if (!URL.canParse(url)) return refuse("invalid", "it is not a valid URL");
    const parsed = new URL(url);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      return refuse("scheme", `only http and https are allowed, not ${parsed.protocol}`, "a URL");
    }
    if (parsed.username !== "" || parsed.password !== "") {
      // Not parsed.origin in the message either way: it has no credentials, but be plain.
      return refuse(
        "credentials",
        "credentials in a URL are refused (use the secret field, sent as a signature)",
        parsed,
      );
    }
    const port = parsed.port !== "" ? Number(parsed.port) : parsed.protocol === "https:" ? 443 : 80;
    const host = normalName(parsed.hostname);
    if (METADATA_NAMES.has(host)) {
      return refuse("metadata", "cloud metadata hosts are always refused", parsed);
    }
    const literal = parseAddress(host);
    let texts: string[];
    if (literal) texts = [host.replace(/^\[|\]$/g, "")];
    else if (host === "localhost" || host.endsWith(".localhost")) texts = [...LOOPBACK_NAMES];
    else {
      try {
        texts = await this.#resolve(host);
      } catch (error) {
        // Storing a URL whose name does not resolve yet: nothing to judge, and the call
        // checks again. Unless a list restricts calls: then only what it shows passes.
        if (options.storing && !this.#allow) {
          return { url: parsed, port, addresses: [] };
        }
        return refuse(
          "unresolvable",
          `its host does not resolve: ${error instanceof Error ? error.message : String(error)}`,
          parsed,
        );
      }
    }
    const addresses: Address[] = [];
    for (const text of texts) {
      const address = parseAddress(text);
      if (!address) return refuse("unresolvable", `its host resolved to ${text}`, parsed);
      addresses.push(address);
    }
    if (addresses.length === 0) return refuse("unresolvable", "its host has no address", parsed);
    for (const address of addresses) {
      const fixed = alwaysRefused(address);
      if (fixed) {
        const resolved = literal ? "" : ` (${host} is ${address})`;
        return refuse(fixed.rule, `${fixed.reason}${resolved}`, parsed);
      }
      if (this.#isSelf(address, port)) {
        return refuse(
          "broker-itself",
          `the broker does not call itself (${host}:${port} is where it listens)`,
          parsed,
        );
      }
    }
    if (this.#allow && !this.#allowed(host, addresses)) {
      return refuse(
        "not-allowed",
        `${host} is not in ESCROW_OUTBOUND_ALLOW`,
        parsed,
      );
    }
    return { url: parsed, port, addresses: addresses.map((a) => a.toString()) };
  }

  /** Whether `address:port` is where the broker itself listens. */
  #isSelf(address: Address, port: number): boolean {
    const self = this.#self;
    if (!self || self.port !== port) return false;
    const listening = parseAddress(self.hostname) ??
      (normalName(self.hostname) === "localhost" ? parseAddress("127.0.0.1")! : undefined);
    const target = unwrap(address);
    if (!listening || unwrap(listening).range() === "unspecified") {
      // All interfaces (or a name we cannot place): every address of this machine.
      if (isLoopback(target)) return true;
      return this.#localAddresses().some((text) => {
        const local = parseAddress(text);
        return local !== undefined &&
          unwrap(local).toNormalizedString() === target.toNormalizedString();
      });
    }
    if (isLoopback(listening)) return isLoopback(target);
    return unwrap(listening).toNormalizedString() === target.toNormalizedString();
  }

  /** Whether `ESCROW_OUTBOUND_ALLOW` lists the host by name, or every address by range. */
  #allowed(host: string, addresses: readonly Address[]): boolean {
    const allow = this.#allow!;
    const named = allow.names.some((p) =>
      "exact" in p ? p.exact === host : host.endsWith(p.suffix) && host.length > p.suffix.length
    );
    if (named) return true;
    return addresses.every((a) => allow.ranges.some((range) => inRange(a, range)));
  }
}
