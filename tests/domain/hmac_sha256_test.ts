import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { decodeHex, encodeHex } from "@std/encoding/hex";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { equalBytes, HmacSha256 } from "../../src/domain/hmac_sha256.ts";

const text = (value: string) => new TextEncoder().encode(value);
const repeat = (byte: number, length: number) => new Uint8Array(length).fill(byte);

// RFC 4231, section 4: test cases 1-4, 6 and 7 (5 is a truncated MAC).
const RFC_4231: [string, Uint8Array, Uint8Array, string][] = [
  [
    "1",
    repeat(0x0b, 20),
    text("Hi There"),
    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
  ],
  [
    "2",
    text("Jefe"),
    text("what do ya want for nothing?"),
    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
  ],
  [
    "3",
    repeat(0xaa, 20),
    repeat(0xdd, 50),
    "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
  ],
  [
    "4",
    Uint8Array.from({ length: 25 }, (_, i) => i + 1),
    repeat(0xcd, 50),
    "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
  ],
  [
    "6",
    repeat(0xaa, 131),
    text("Test Using Larger Than Block-Size Key - Hash Key First"),
    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
  ],
  [
    "7",
    repeat(0xaa, 131),
    text(
      "This is a test using a larger than block-size key and a larger than block-size data. " +
        "The key needs to be hashed before being used by the HMAC algorithm.",
    ),
    "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
  ],
];

Deno.test("HmacSha256 gives RFC 4231's HMAC-SHA256 test vectors", () => {
  for (const [name, key, data, expected] of RFC_4231) {
    assertEquals(encodeHex(new HmacSha256(key).sign(data)), expected, `test case ${name}`);
  }
});

Deno.test("HmacSha256 agrees with @noble/hashes on random keys and on every message length to 300 bytes", () => {
  for (const keyLength of [0, 1, 16, 32, 63, 64, 65, 200]) {
    const key = crypto.getRandomValues(new Uint8Array(keyLength));
    const mac = new HmacSha256(key); // one instance: its buffers are reused from message to message
    for (let length = 0; length <= 300; length++) {
      const message = crypto.getRandomValues(new Uint8Array(length));
      assertEquals(
        encodeHex(mac.sign(message)),
        encodeHex(hmac(sha256, key, message)),
        `key ${keyLength} bytes, message ${length} bytes`,
      );
    }
  }
});

Deno.test("HmacSha256 signs a string as its UTF-8 bytes, multi-byte characters included", () => {
  const key = decodeHex("000102030405060708090a0b0c0d0e0f");
  const mac = new HmacSha256(key);
  for (const message of ["", "ops~g1~m1~T~1~1~30000", "Überweisung~€~日本~🎉", "x".repeat(1000)]) {
    assertEquals(encodeHex(mac.sign(message)), encodeHex(hmac(sha256, key, text(message))));
  }
});

Deno.test("equalBytes is true only for the same bytes of the same length", () => {
  assert(equalBytes(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3])));
  assert(!equalBytes(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4])));
  assert(!equalBytes(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2])));
  assert(equalBytes(new Uint8Array(), new Uint8Array()));
});
