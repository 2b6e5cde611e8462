import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { assertFalse } from "@std/assert/false";
import { assertInstanceOf } from "@std/assert/instance-of";
import { assertThrows } from "@std/assert/throws";
import {
  matchesTag,
  parseTagExpression,
  TagExpressionError,
} from "../../src/domain/tag_expression.ts";

function assertTagError(source: string, position: number, message: string): void {
  const error = assertThrows(() => parseTagExpression(source), TagExpressionError, message);
  assertEquals(error.position, position);
  assertEquals(error.name, "TagExpressionError");
  assertInstanceOf(error, Error);
}

Deno.test("parseTagExpression() reads * as every tag", () => {
  assertEquals(parseTagExpression("*"), { all: true });
  assertEquals(parseTagExpression("  *  "), { all: true });
});

Deno.test("parseTagExpression() treats an empty or blank source as *", () => {
  assertEquals(parseTagExpression(""), { all: true });
  assertEquals(parseTagExpression("   "), { all: true });
});

Deno.test("parseTagExpression() reads a single tag", () => {
  assertEquals(parseTagExpression("Ops"), { all: false, tags: ["Ops"] });
  assertEquals(parseTagExpression(" Ops "), { all: false, tags: ["Ops"] });
});

Deno.test("parseTagExpression() reads tags joined by || with or without spaces", () => {
  assertEquals(parseTagExpression("Ops || Orchestration"), {
    all: false,
    tags: ["Ops", "Orchestration"],
  });
  assertEquals(parseTagExpression("a||b||c"), { all: false, tags: ["a", "b", "c"] });
  assertEquals(parseTagExpression("a  ||b ||  c"), { all: false, tags: ["a", "b", "c"] });
});

Deno.test("parseTagExpression() drops duplicate tags and keeps the written order", () => {
  assertEquals(parseTagExpression("b || a || b"), { all: false, tags: ["b", "a"] });
});

Deno.test("parseTagExpression() accepts letters, digits, '_', '.' and '-' up to 64 characters", () => {
  assertEquals(parseTagExpression("v1.2_rc-3"), { all: false, tags: ["v1.2_rc-3"] });
  const longest = "x".repeat(64);
  assertEquals(parseTagExpression(longest), { all: false, tags: [longest] });
});

Deno.test("parseTagExpression() rejects a tag longer than 64 characters", () => {
  assertTagError(`a || ${"x".repeat(65)}`, 5, "invalid tag");
});

Deno.test("parseTagExpression() reports an empty tag after a trailing ||", () => {
  assertTagError("Ops ||", 6, "Cannot parse tag expression: empty tag at position 6");
  assertTagError("Ops ||   ", 9, "empty tag at position 9");
});

Deno.test("parseTagExpression() reports an empty tag before a leading ||", () => {
  assertTagError("|| Ops", 0, "empty tag at position 0");
});

Deno.test("parseTagExpression() reports an empty tag between two separators", () => {
  assertTagError("a || || b", 5, "empty tag at position 5");
  assertTagError("a |||| b", 4, "empty tag at position 4");
});

Deno.test("parseTagExpression() rejects a tag with a space inside", () => {
  assertTagError(
    "Ops || a b",
    7,
    'Cannot parse tag expression: invalid tag "a b" at position 7',
  );
});

Deno.test("parseTagExpression() rejects a single | as part of an invalid tag", () => {
  assertTagError("a|b", 0, 'invalid tag "a|b"');
  assertTagError("a ||| b", 4, 'invalid tag "| b"');
});

Deno.test("parseTagExpression() rejects characters outside the tag alphabet", () => {
  assertTagError("Ops,Orchestration", 0, "invalid tag");
  assertTagError("Ops || Or*", 7, 'invalid tag "Or*"');
  assertTagError("Ops || Ünï", 7, "invalid tag");
});

Deno.test("parseTagExpression() rejects * combined with other tags", () => {
  assertTagError("* || Ops", 0, '"*" cannot be combined with other tags at position 0');
  assertTagError("Ops || *", 7, '"*" cannot be combined with other tags at position 7');
  assertTagError("* || *", 0, "cannot be combined");
});

Deno.test("parseTagExpression() returns an expression that cannot be mutated", () => {
  const expr = parseTagExpression("a || b");
  assert(Object.isFrozen(expr));
  assert(!expr.all && Object.isFrozen(expr.tags));
});

Deno.test("matchesTag() with * selects every message, with or without a tag", () => {
  const all = parseTagExpression("*");
  assert(matchesTag(all, "Ops"));
  assert(matchesTag(all, undefined));
});

Deno.test("matchesTag() selects only the listed tags", () => {
  const expr = parseTagExpression("Ops || Orchestration");
  assert(matchesTag(expr, "Ops"));
  assert(matchesTag(expr, "Orchestration"));
  assertFalse(matchesTag(expr, "Billing"));
});

Deno.test("matchesTag() compares tags case-sensitively", () => {
  const expr = parseTagExpression("Ops");
  assertFalse(matchesTag(expr, "ops"));
  assertFalse(matchesTag(expr, "OPS"));
});

Deno.test("matchesTag() does not select a message without a tag unless the expression is *", () => {
  assertFalse(matchesTag(parseTagExpression("Ops"), undefined));
  assertFalse(matchesTag(parseTagExpression("Ops"), ""));
});

Deno.test("matchesTag() accepts a hand-built expression", () => {
  assert(matchesTag({ all: false, tags: ["x"] }, "x"));
  assertFalse(matchesTag({ all: false, tags: [] }, "x"));
});
