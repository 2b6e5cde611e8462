/**
 * The outbound policy on every URL form of issue 9 (no network: names are
 * resolved by a table): what is always refused, what `ESCROW_OUTBOUND_ALLOW`
 * lets through, the broker's own address, and what a refusal says.
 *
 * @module
 */
import { assertEquals } from "@std/assert/equals";
import { assertRejects } from "@std/assert/rejects";
import { assertThrows } from "@std/assert/throws";
import { assertStringIncludes } from "@std/assert/string-includes";
import { OutboundRefusedError } from "../../src/domain/errors.ts";
import { OutboundPolicy, parseAllowList } from "../../src/outbound/mod.ts";

/** A resolver from a table; an unknown name does not resolve. */
function table(names: Record<string, string[]>) {
  return (host: string) => {
    const found = names[host];
    return found ? Promise.resolve(found) : Promise.reject(new Error(`NXDOMAIN ${host}`));
  };
}

const DNS = table({
  "hooks.partner.test": ["203.0.113.10"],
  "rebind.test": ["169.254.169.254"],
  "mixed.test": ["203.0.113.11", "fd00:ec2::254"],
  "private.test": ["10.20.0.7"],
  "a.corp.test": ["198.51.100.9"],
  "corp.test": ["198.51.100.8"],
});

/** The rule refusing `url`, or "allowed". */
async function verdict(policy: OutboundPolicy, url: string): Promise<string> {
  try {
    await policy.check(url, "checkUrl");
    return "allowed";
  } catch (error) {
    if (error instanceof OutboundRefusedError) return error.rule;
    throw error;
  }
}

/** Every URL form of the issue with the rule that refuses it when ESCROW_OUTBOUND_ALLOW is unset. */
const ALWAYS: readonly [string, string][] = [
  ["http://169.254.169.254/latest/meta-data/", "link-local"],
  ["http://169.254.0.1/", "link-local"],
  ["http://[fe80::1]/", "link-local"],
  ["http://[fd00:ec2::254]/", "metadata"],
  ["http://100.100.100.200/", "metadata"],
  ["http://metadata.google.internal/computeMetadata/v1/", "metadata"],
  ["http://METADATA.GOOGLE.INTERNAL./", "metadata"],
  ["http://metadata.goog/", "metadata"],
  ["http://0.0.0.0:9000/", "unspecified"],
  ["http://0/", "unspecified"],
  ["http://[::]/", "unspecified"],
  ["http://[::ffff:169.254.169.254]/", "link-local"],
  ["http://[::ffff:a9fe:a9fe]/", "link-local"],
  ["http://[64:ff9b::169.254.169.254]/", "link-local"],
  ["http://[2002:a9fe:a9fe::1]/", "link-local"],
  ["http://[::ffff:0.0.0.0]/", "unspecified"],
  ["http://0xa9fea9fe/", "link-local"],
  ["http://2852039166/", "link-local"],
  ["http://0251.0376.0251.0376/", "link-local"],
  ["http://224.0.0.1/", "not-unicast"],
  ["http://255.255.255.255/", "not-unicast"],
  ["http://rebind.test/", "link-local"],
  ["http://mixed.test/", "metadata"],
  ["http://user:secret@127.0.0.1:9000/check", "credentials"],
  ["http://user@127.0.0.1:9000/check", "credentials"],
  ["ftp://127.0.0.1/", "scheme"],
  ["file:///etc/passwd", "scheme"],
  ["http://nowhere.test/", "unresolvable"],
];

for (const [url, rule] of ALWAYS) {
  Deno.test(`${url} is refused by rule ${rule}`, async () => {
    assertEquals(await verdict(new OutboundPolicy({ resolve: DNS }), url), rule);
    // A list cannot let it through either: the fixed rules come first.
    const listed = new OutboundPolicy({ resolve: DNS, allow: "0.0.0.0/0,::/0,rebind.test" });
    assertEquals(await verdict(listed, url), rule);
  });
}

Deno.test("without ESCROW_OUTBOUND_ALLOW loopback, private and public addresses are allowed", async () => {
  const policy = new OutboundPolicy({ resolve: DNS });
  for (
    const url of [
      "http://127.0.0.1:9000/check",
      "http://0x7f000001:9000/",
      "http://2130706433:9000/",
      "http://0177.0.0.1:9000/",
      "http://[::1]:9000/",
      "http://localhost:9000/",
      "http://10.0.0.1/",
      "http://192.168.1.1/",
      "https://hooks.partner.test/escrow",
      "http://private.test/",
    ]
  ) {
    assertEquals(await verdict(policy, url), "allowed", url);
  }
});

Deno.test("ESCROW_OUTBOUND_ALLOW allows only the names, addresses and ranges it lists", async () => {
  const policy = new OutboundPolicy({
    resolve: DNS,
    allow: "127.0.0.0/8, ::1, localhost, 10.20.0.0/16, *.corp.test, hooks.partner.test",
  });
  const cases: [string, string][] = [
    ["http://127.0.0.1:9000/", "allowed"],
    ["http://127.8.9.10/", "allowed"],
    ["http://0x7f000001/", "allowed"],
    ["http://[::1]/", "allowed"],
    ["http://[::ffff:127.0.0.1]/", "allowed"],
    ["http://localhost/", "allowed"],
    ["http://10.20.3.4/", "allowed"],
    ["http://private.test/", "allowed"], // resolves into 10.20.0.0/16
    ["http://a.corp.test/", "allowed"], // by name
    ["https://hooks.partner.test/", "allowed"],
    ["http://10.0.0.1/", "not-allowed"],
    ["http://[::2]/", "unspecified"], // IPv4-compatible ::0.0.0.2
    ["http://192.168.1.1/", "not-allowed"],
    ["http://corp.test/", "not-allowed"], // *.corp.test is for names under it
    ["http://nowhere.test/", "unresolvable"],
  ];
  for (const [url, expected] of cases) assertEquals(await verdict(policy, url), expected, url);
});

Deno.test("the broker's own address and port are refused in every spelling", async () => {
  const policy = new OutboundPolicy({ self: { hostname: "127.0.0.1", port: 8000 } });
  for (
    const url of [
      "http://127.0.0.1:8000/v1/transactions/victim/commit",
      "http://0x7f000001:8000/v1/transactions/victim/commit",
      "http://2130706433:8000/",
      "http://0177.0.0.1:8000/",
      "http://127.0.0.2:8000/",
      "http://localhost:8000/",
      "http://[::ffff:127.0.0.1]:8000/",
    ]
  ) {
    assertEquals(await verdict(policy, url), "broker-itself", url);
  }
  assertEquals(await verdict(policy, "http://127.0.0.1:8001/"), "allowed");
  assertEquals(await verdict(policy, "http://10.0.0.5:8000/"), "allowed");
});

Deno.test("a broker on 0.0.0.0 refuses every local address on its port", async () => {
  const policy = new OutboundPolicy({
    self: { hostname: "0.0.0.0", port: 8000 },
    localAddresses: () => ["127.0.0.1", "::1", "10.0.0.5"],
  });
  for (const url of ["http://127.0.0.1:8000/", "http://[::1]:8000/", "http://10.0.0.5:8000/"]) {
    assertEquals(await verdict(policy, url), "broker-itself", url);
  }
  assertEquals(await verdict(policy, "http://10.0.0.6:8000/"), "allowed");
  assertEquals(await verdict(policy, "http://10.0.0.5:8001/"), "allowed");
});

Deno.test("listeningOn() sets the broker's port once it is known", async () => {
  const policy = new OutboundPolicy();
  assertEquals(await verdict(policy, "http://127.0.0.1:41234/"), "allowed");
  policy.listeningOn({ hostname: "127.0.0.1", port: 41234 });
  assertEquals(await verdict(policy, "http://127.0.0.1:41234/"), "broker-itself");
});

Deno.test("a refusal names the field and the rule and shows only the origin", async () => {
  const policy = new OutboundPolicy();
  const error = await assertRejects(
    () => policy.check("http://169.254.169.254/latest?token=abc", "delivery.url"),
    OutboundRefusedError,
  );
  assertEquals(error.status, 400);
  assertEquals(error.extensions, { field: "delivery.url", rule: "link-local" });
  assertStringIncludes(error.message, "http://169.254.169.254");
  assertEquals(error.message.includes("token=abc"), false);
  const credentials = await assertRejects(
    () => policy.check("http://alice:pa55@127.0.0.1/"),
    OutboundRefusedError,
  );
  assertEquals(credentials.message.includes("pa55"), false);
});

Deno.test("storing a URL whose name does not resolve yet passes only when no list is set", async () => {
  const open = new OutboundPolicy({ resolve: DNS });
  assertEquals((await open.check("http://later.test/", "url", { storing: true })).addresses, []);
  assertEquals(await verdict(open, "http://later.test/"), "unresolvable");
  const listed = new OutboundPolicy({ resolve: DNS, allow: "10.0.0.0/8" });
  await assertRejects(
    () => listed.check("http://later.test/", "url", { storing: true }),
    OutboundRefusedError,
  );
});

Deno.test("an invalid ESCROW_OUTBOUND_ALLOW entry is a RangeError naming it", () => {
  assertEquals(parseAllowList("").ranges, []);
  for (const bad of ["10.0.0.0/33", "not a host", "::1/129", "-bad-.test", "http://x.test"]) {
    const error = assertThrows(() => new OutboundPolicy({ allow: `127.0.0.1,${bad}` }), RangeError);
    assertStringIncludes(error.message, "ESCROW_OUTBOUND_ALLOW");
  }
});
