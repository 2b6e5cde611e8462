/**
 * IP addresses as the outbound policy sees them: parsed with `ipaddr.js`,
 * IPv4 carried inside IPv6 (mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`,
 * 6to4 `2002::/16`, the old compatible `::a.b.c.d`) unwrapped so that it is
 * judged as the IPv4 address it reaches, and the ranges no outbound call may
 * ever reach (link-local, cloud metadata, unspecified, multicast, broadcast).
 *
 * @module
 */
import ipaddr from "ipaddr.js";

/** A parsed IPv4 or IPv6 address. */
export type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** Why an address is always refused, and what the 400 says. */
export interface AlwaysRefused {
  /** Stable rule name, e.g. `"link-local"`. */
  readonly rule: string;
  /** Human-readable reason. */
  readonly reason: string;
}

/**
 * Parses an IP literal (IPv6 with or without brackets), or returns undefined
 * for anything else. Only the standard forms are accepted: the odd IPv4 forms
 * (`0x7f000001`, `2130706433`, `0177.0.0.1`) are turned into dotted form by
 * WHATWG URL parsing before they get here.
 *
 * @example
 * ```ts
 * import { parseAddress } from "./address.ts";
 * parseAddress("[::1]")?.kind(); // "ipv6"
 * parseAddress("example.com"); // undefined
 * ```
 */
export function parseAddress(text: string): Address | undefined {
  const bare = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  if (ipaddr.IPv4.isValidFourPartDecimal(bare)) return ipaddr.IPv4.parse(bare);
  if (bare.includes(":") && ipaddr.IPv6.isValid(bare)) return ipaddr.IPv6.parse(bare);
  return undefined;
}

/**
 * The IPv4 address an IPv6 one carries (mapped, NAT64, 6to4, compatible), or
 * the address itself.
 *
 * @example
 * ```ts
 * import { parseAddress, unwrap } from "./address.ts";
 * unwrap(parseAddress("::ffff:169.254.169.254")!).toString(); // "169.254.169.254"
 * ```
 */
export function unwrap(address: Address): Address {
  if (address.kind() === "ipv4") return address;
  const v6 = address as ipaddr.IPv6;
  const parts = v6.parts;
  const v4 = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  switch (v6.range()) {
    case "ipv4Mapped":
      return v6.toIPv4Address();
    case "rfc6052": // NAT64 64:ff9b::/96
    case "rfc6145": // ::ffff:0:a.b.c.d
      return v4(parts[6]!, parts[7]!);
    case "6to4": // 2002:AABB:CCDD::/48
      return v4(parts[1]!, parts[2]!);
  }
  // The deprecated IPv4-compatible form ::a.b.c.d (but not :: or ::1).
  if (parts.slice(0, 6).every((p) => p === 0) && (parts[6]! !== 0 || parts[7]! > 1)) {
    return v4(parts[6]!, parts[7]!);
  }
  return address;
}

const METADATA_ADDRESSES = [
  "100.100.100.200", // Alibaba Cloud
  "fd00:ec2::254", // AWS IMDS over IPv6
  "fd20:ce::254", // GCP metadata over IPv6
].map((a) => ipaddr.parse(a).toNormalizedString());

/**
 * Why `address` (unwrapped first) may never be called, or undefined when it
 * may be.
 *
 * @example
 * ```ts
 * import { alwaysRefused, parseAddress } from "./address.ts";
 * alwaysRefused(parseAddress("169.254.169.254")!)?.rule; // "link-local"
 * alwaysRefused(parseAddress("127.0.0.1")!); // undefined
 * ```
 */
export function alwaysRefused(address: Address): AlwaysRefused | undefined {
  const target = unwrap(address);
  if (METADATA_ADDRESSES.includes(target.toNormalizedString())) {
    return { rule: "metadata", reason: "cloud metadata addresses are always refused" };
  }
  switch (target.range()) {
    case "linkLocal":
      return {
        rule: "link-local",
        reason:
          "link-local addresses (169.254.0.0/16, fe80::/10: cloud metadata) are always refused",
      };
    case "unspecified":
      return {
        rule: "unspecified",
        reason: "unspecified addresses (0.0.0.0/8, ::) are always refused",
      };
    case "multicast":
    case "broadcast":
      return {
        rule: "not-unicast",
        reason: "multicast and broadcast addresses are always refused",
      };
  }
  return undefined;
}

/**
 * Whether `address` (unwrapped first) is a loopback address.
 *
 * @example
 * ```ts
 * import { isLoopback, parseAddress } from "./address.ts";
 * isLoopback(parseAddress("::ffff:127.0.0.1")!); // true
 * ```
 */
export function isLoopback(address: Address): boolean {
  return unwrap(address).range() === "loopback";
}

/** A CIDR range (`10.20.0.0/16`, `::1/128`) or a single address as one. */
export type Range = [Address, number];

/**
 * Parses `10.20.0.0/16`, `fd00::/8` or a single address (as a /32 or /128),
 * or returns undefined.
 *
 * @example
 * ```ts
 * import { parseRange } from "./address.ts";
 * parseRange("127.0.0.0/8")?.[1]; // 8
 * ```
 */
export function parseRange(text: string): Range | undefined {
  const slash = text.indexOf("/");
  if (slash === -1) {
    const address = parseAddress(text);
    return address ? [address, address.kind() === "ipv4" ? 32 : 128] : undefined;
  }
  const address = parseAddress(text.slice(0, slash));
  const bits = text.slice(slash + 1);
  if (!address || !/^\d{1,3}$/.test(bits)) return undefined;
  const n = Number(bits);
  if (n > (address.kind() === "ipv4" ? 32 : 128)) return undefined;
  return [address, n];
}

/**
 * Whether `address`, or the IPv4 address it carries, lies in `range`.
 *
 * @example
 * ```ts
 * import { inRange, parseAddress, parseRange } from "./address.ts";
 * inRange(parseAddress("10.20.3.4")!, parseRange("10.20.0.0/16")!); // true
 * ```
 */
export function inRange(address: Address, range: Range): boolean {
  for (const candidate of [address, unwrap(address)]) {
    if (candidate.kind() === range[0].kind() && candidate.match(range as never)) return true;
  }
  return false;
}
