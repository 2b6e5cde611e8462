import { assert } from "@std/assert/assert";
import { assertEquals } from "@std/assert/equals";
import { assertFalse } from "@std/assert/false";
import { assertInstanceOf } from "@std/assert/instance-of";
import { assertThrows } from "@std/assert/throws";
import { parseSqlFilter, SqlFilterError } from "../../src/domain/sql_filter.ts";

type Properties = Record<string, string>;

function passes(source: string, properties: Properties = {}, tag?: string): boolean {
  return parseSqlFilter(source).evaluate(properties, tag);
}

function assertSqlError(source: string, position: number, message: string): void {
  const error = assertThrows(() => parseSqlFilter(source), SqlFilterError, message);
  assertEquals(error.position, position);
  assertEquals(error.name, "SqlFilterError");
  assertInstanceOf(error, Error);
}

// The fund company's subscription ------------------------------------------

Deno.test("parseSqlFilter() passes a large Shanghai order for amount > 100 AND region = 'SH'", () => {
  const filter = parseSqlFilter("amount > 100 AND region = 'SH'");
  assert(filter.evaluate({ amount: "250", region: "SH" }));
  assert(filter.evaluate({ amount: "100.5", region: "SH", channel: "app" }));
});

Deno.test("parseSqlFilter() filters out small, foreign or incomplete orders for amount > 100 AND region = 'SH'", () => {
  const filter = parseSqlFilter("amount > 100 AND region = 'SH'");
  assertFalse(filter.evaluate({ amount: "100", region: "SH" }));
  assertFalse(filter.evaluate({ amount: "250", region: "BJ" }));
  assertFalse(filter.evaluate({ amount: "250", region: "sh" }));
  assertFalse(filter.evaluate({ amount: "250" }));
  assertFalse(filter.evaluate({ region: "SH" }));
  assertFalse(filter.evaluate({ amount: "lots", region: "SH" }));
  assertFalse(filter.evaluate({}));
});

Deno.test("parseSqlFilter() keeps the source and can be evaluated many times", () => {
  const source = "amount > 100 AND region = 'SH'";
  const filter = parseSqlFilter(source);
  assertEquals(filter.source, source);
  assert(Object.isFrozen(filter));
  for (let i = 0; i < 1_000; i++) {
    assertEquals(filter.evaluate({ amount: String(i), region: "SH" }), i > 100);
  }
});

// Comparisons ----------------------------------------------------------------

Deno.test("parseSqlFilter() compares a property with a number using each operator", () => {
  const cases: [string, boolean, boolean, boolean][] = [
    // operator, for 5, for 10, for 15 (compared with 10)
    ["=", false, true, false],
    ["<>", true, false, true],
    [">", false, false, true],
    [">=", false, true, true],
    ["<", true, false, false],
    ["<=", true, true, false],
  ];
  for (const [operator, five, ten, fifteen] of cases) {
    const filter = parseSqlFilter(`n ${operator} 10`);
    assertEquals(filter.evaluate({ n: "5" }), five, `5 ${operator} 10`);
    assertEquals(filter.evaluate({ n: "10" }), ten, `10 ${operator} 10`);
    assertEquals(filter.evaluate({ n: "15" }), fifteen, `15 ${operator} 10`);
  }
});

Deno.test("parseSqlFilter() accepts operators without surrounding spaces", () => {
  assert(passes("n>=10", { n: "10" }));
  assert(passes("n<>10", { n: "11" }));
  assert(passes("n<=10", { n: "10" }));
  assert(passes("n<10", { n: "9" }));
  assert(passes("n>-1", { n: "0" }));
  assert(passes("region='SH'", { region: "SH" }));
});

Deno.test("parseSqlFilter() compares numerically, not textually", () => {
  assert(passes("n > 9", { n: "10" }));
  assert(passes("n = 10", { n: "10.0" }));
  assert(passes("n = 10", { n: "010" }));
  assert(passes("n = 1000", { n: "1e3" }));
  assert(passes("n < 0", { n: "-0.5" }));
  assert(passes("n = 0.5", { n: ".5" }));
  assert(passes("n = 5", { n: "+5" }));
});

Deno.test("parseSqlFilter() accepts a literal on the left of a comparison", () => {
  assert(passes("100 < amount", { amount: "101" }));
  assertFalse(passes("100 < amount", { amount: "100" }));
  assert(passes("'SH' = region", { region: "SH" }));
});

Deno.test("parseSqlFilter() compares strings with = and <>", () => {
  assert(passes("region = 'SH'", { region: "SH" }));
  assertFalse(passes("region = 'SH'", { region: "SH " }));
  assert(passes("region <> 'SH'", { region: "BJ" }));
  assertFalse(passes("region <> 'SH'", { region: "SH" }));
});

Deno.test("parseSqlFilter() compares two properties as strings", () => {
  assert(passes("from = to", { from: "SH", to: "SH" }));
  assert(passes("from <> to", { from: "SH", to: "BJ" }));
  assertFalse(passes("from = to", { from: "SH" }));
});

Deno.test("parseSqlFilter() treats ordering of strings as a type mismatch", () => {
  for (const source of ["region > 'A'", "region >= 'A'", "region < 'Z'", "region <= 'Z'"]) {
    assertFalse(passes(source, { region: "SH" }), source);
    assertFalse(passes(`NOT (${source})`, { region: "SH" }), `NOT (${source})`);
  }
  assertFalse(passes("a < b", { a: "1", b: "2" }));
});

Deno.test("parseSqlFilter() treats a non-numeric property compared with a number as a type mismatch", () => {
  for (const value of ["abc", "", " 5", "5 ", "0x10", "1,000", "10L", "Infinity", "NaN", "1e"]) {
    assertFalse(passes("n = 5", { n: value }), `n = ${JSON.stringify(value)}`);
    assertFalse(passes("n <> 5", { n: value }), `n <> ${JSON.stringify(value)}`);
    assertFalse(passes("NOT n = 5", { n: value }), `NOT n = ${JSON.stringify(value)}`);
  }
});

Deno.test("parseSqlFilter() treats a string literal compared with a number as a type mismatch", () => {
  assertFalse(passes("'5' = 5"));
  assertFalse(passes("NOT '5' = 5"));
  assertFalse(passes("n = 'x' OR 5 = 'x'", { n: "y" }));
});

// Numbers --------------------------------------------------------------------

Deno.test("parseSqlFilter() reads integer, negative and long literals", () => {
  assert(passes("n = 123", { n: "123" }));
  assert(passes("n = -5", { n: "-5" }));
  assert(passes("n = 10L", { n: "10" }));
  assert(passes("n = 10l", { n: "10" }));
  assert(passes("n = -7L", { n: "-7" }));
  assert(passes("n = 0", { n: "0" }));
});

Deno.test("parseSqlFilter() reads decimal and exponent literals", () => {
  assert(passes("n = 3.14", { n: "3.14" }));
  assert(passes("n = 5E10", { n: "50000000000" }));
  assert(passes("n = 5e10", { n: "5E10" }));
  assert(passes("n = 1.5e-3", { n: "0.0015" }));
  assert(passes("n = 2E+2", { n: "200" }));
  assert(passes("n = .5", { n: "0.5" }));
  assert(passes("n = -.5", { n: "-0.5" }));
  assert(passes("n = 1.", { n: "1" }));
});

// Strings --------------------------------------------------------------------

Deno.test("parseSqlFilter() reads '' inside a string as one quote", () => {
  assert(passes("name = 'O''Brien'", { name: "O'Brien" }));
  assert(passes("name = ''''", { name: "'" }));
  assert(passes("name = 'a''''b'", { name: "a''b" }));
});

Deno.test("parseSqlFilter() reads an empty string literal", () => {
  assert(passes("name = ''", { name: "" }));
  assertFalse(passes("name = ''", {}));
});

Deno.test("parseSqlFilter() keeps comment markers and keywords inside strings", () => {
  assert(passes("note = '-- not a comment'", { note: "-- not a comment" }));
  assert(passes("note = '/* nor this */'", { note: "/* nor this */" }));
  assert(passes("note = 'a AND b OR NOT c'", { note: "a AND b OR NOT c" }));
  assert(passes("note = ' (x) '", { note: " (x) " }));
});

// Comments and layout ------------------------------------------------------

Deno.test("parseSqlFilter() skips -- line comments", () => {
  assert(passes("a = 1 -- the rest is ignored", { a: "1" }));
  assert(passes("-- leading comment\na = 1", { a: "1" }));
  assert(passes("a = 1 -- first\n AND b = 2 -- second", { a: "1", b: "2" }));
  assertFalse(passes("a = 1 -- first\n AND b = 2", { a: "1", b: "3" }));
});

Deno.test("parseSqlFilter() skips /* */ block comments", () => {
  assert(passes("/* why */ a = 1", { a: "1" }));
  assert(passes("a/**/=/* one */1", { a: "1" }));
  assert(passes("a = 1 /* multi\nline\ncomment */ AND b = 2", { a: "1", b: "2" }));
  assert(passes("a = 1 /* -- nested marker */", { a: "1" }));
});

Deno.test("parseSqlFilter() accepts tabs and newlines as whitespace", () => {
  assert(passes("a\t=\t1\r\nAND\nb = 2", { a: "1", b: "2" }));
});

// Keywords and identifiers ---------------------------------------------------

Deno.test("parseSqlFilter() reads keywords in any case", () => {
  const properties = { a: "1", b: "x", c: "flag" };
  assert(passes("a = 1 and b = 'x'", properties));
  assert(passes("a = 2 Or b = 'x'", properties));
  assert(passes("not a = 2", properties));
  assert(passes("a between 0 aNd 2", properties));
  assert(passes("b in ('x')", properties));
  assert(passes("d is null", properties));
  assert(passes("a Is Not Null", properties));
  assert(passes("c contains 'la' AND c startswith 'fl' AND c EndsWith 'ag'", properties));
  assert(passes("True"));
  assertFalse(passes("false"));
});

Deno.test("parseSqlFilter() reads property names case-sensitively", () => {
  assert(passes("Region = 'SH'", { Region: "SH" }));
  assertFalse(passes("Region = 'SH'", { region: "SH" }));
  assert(passes("Region IS NULL", { region: "SH" }));
});

Deno.test("parseSqlFilter() accepts identifiers with '_', '$', '.' and digits", () => {
  assert(passes("order.amount > 1", { "order.amount": "2" }));
  assert(passes("$price = 3", { $price: "3" }));
  assert(passes("_x1 = 'y'", { _x1: "y" }));
  assert(passes("a.b_c$9 IS NOT NULL", { "a.b_c$9": "" }));
});

Deno.test("parseSqlFilter() does not read names inherited from Object.prototype", () => {
  assert(passes("constructor IS NULL"));
  assert(passes("toString IS NULL AND hasOwnProperty IS NULL"));
  assertFalse(passes("toString = 'x'"));
});

// TAGS -------------------------------------------------------------------------

Deno.test("parseSqlFilter() reads the message tag through TAGS", () => {
  assert(passes("TAGS = 'Ops'", {}, "Ops"));
  assertFalse(passes("TAGS = 'Ops'", {}, "Billing"));
  assert(passes("TAGS IN ('Ops', 'Orchestration') AND amount > 1", { amount: "2" }, "Ops"));
  assert(passes("TAGS STARTSWITH 'Or'", {}, "Orchestration"));
});

Deno.test("parseSqlFilter() makes TAGS NULL for a message without a tag", () => {
  assert(passes("TAGS IS NULL"));
  assertFalse(passes("TAGS IS NOT NULL"));
  assertFalse(passes("TAGS = 'Ops'"));
  assertFalse(passes("TAGS <> 'Ops'"));
  assert(passes("TAGS IS NOT NULL", {}, "Ops"));
});

Deno.test("parseSqlFilter() reads TAGS from the tag argument, not from properties", () => {
  assertFalse(passes("TAGS = 'Ops'", { TAGS: "Ops" }));
  assert(passes("tags = 'Ops'", { tags: "Ops" }, "Billing"));
});

// BETWEEN ----------------------------------------------------------------------

Deno.test("parseSqlFilter() BETWEEN includes both bounds", () => {
  const filter = parseSqlFilter("n BETWEEN 10 AND 20");
  assertFalse(filter.evaluate({ n: "9.99" }));
  assert(filter.evaluate({ n: "10" }));
  assert(filter.evaluate({ n: "15" }));
  assert(filter.evaluate({ n: "20" }));
  assertFalse(filter.evaluate({ n: "20.01" }));
});

Deno.test("parseSqlFilter() NOT BETWEEN excludes the range and its bounds", () => {
  const filter = parseSqlFilter("n NOT BETWEEN 10 AND 20");
  assert(filter.evaluate({ n: "9" }));
  assertFalse(filter.evaluate({ n: "10" }));
  assertFalse(filter.evaluate({ n: "20" }));
  assert(filter.evaluate({ n: "21" }));
});

Deno.test("parseSqlFilter() BETWEEN and NOT BETWEEN both filter out a missing or non-numeric property", () => {
  for (const properties of [{}, { n: "ten" }] as Properties[]) {
    assertFalse(passes("n BETWEEN 1 AND 20", properties));
    assertFalse(passes("n NOT BETWEEN 1 AND 20", properties));
  }
});

Deno.test("parseSqlFilter() BETWEEN accepts negative and decimal bounds", () => {
  assert(passes("n BETWEEN -1.5 AND 1E1", { n: "-1" }));
  assertFalse(passes("n BETWEEN -1.5 AND 1E1", { n: "-2" }));
});

Deno.test("parseSqlFilter() BETWEEN takes its AND before the next condition's", () => {
  const filter = parseSqlFilter("n BETWEEN 1 AND 5 AND region = 'SH'");
  assert(filter.evaluate({ n: "3", region: "SH" }));
  assertFalse(filter.evaluate({ n: "3", region: "BJ" }));
  assertFalse(filter.evaluate({ n: "6", region: "SH" }));
});

Deno.test("parseSqlFilter() BETWEEN with string bounds is a type mismatch", () => {
  assertFalse(passes("s BETWEEN 'a' AND 'z'", { s: "m" }));
  assertFalse(passes("s NOT BETWEEN 'a' AND 'z'", { s: "m" }));
});

// IN ---------------------------------------------------------------------------

Deno.test("parseSqlFilter() IN selects listed strings", () => {
  const filter = parseSqlFilter("region IN ('SH', 'BJ', 'O''Hare')");
  assert(filter.evaluate({ region: "SH" }));
  assert(filter.evaluate({ region: "BJ" }));
  assert(filter.evaluate({ region: "O'Hare" }));
  assertFalse(filter.evaluate({ region: "GZ" }));
  assertFalse(filter.evaluate({ region: "sh" }));
});

Deno.test("parseSqlFilter() NOT IN selects unlisted strings", () => {
  const filter = parseSqlFilter("region NOT IN ('SH', 'BJ')");
  assert(filter.evaluate({ region: "GZ" }));
  assertFalse(filter.evaluate({ region: "SH" }));
});

Deno.test("parseSqlFilter() IN and NOT IN both filter out a missing property", () => {
  assertFalse(passes("region IN ('SH')"));
  assertFalse(passes("region NOT IN ('SH')"));
});

Deno.test("parseSqlFilter() IN accepts a single element and no spaces", () => {
  assert(passes("region IN('SH')", { region: "SH" }));
  assert(passes("region IN ('SH','BJ')", { region: "BJ" }));
});

// IS NULL ----------------------------------------------------------------------

Deno.test("parseSqlFilter() IS NULL is true only for a missing property", () => {
  assert(passes("region IS NULL"));
  assertFalse(passes("region IS NULL", { region: "SH" }));
  assertFalse(passes("region IS NULL", { region: "" }));
});

Deno.test("parseSqlFilter() IS NOT NULL is true for any present property, even empty", () => {
  assert(passes("region IS NOT NULL", { region: "SH" }));
  assert(passes("region IS NOT NULL", { region: "" }));
  assertFalse(passes("region IS NOT NULL"));
});

Deno.test("parseSqlFilter() IS NULL on literals", () => {
  assert(passes("NULL IS NULL"));
  assertFalse(passes("'x' IS NULL"));
  assert(passes("1 IS NOT NULL"));
});

// CONTAINS, STARTSWITH, ENDSWITH ----------------------------------------------

Deno.test("parseSqlFilter() CONTAINS and NOT CONTAINS match a substring", () => {
  assert(passes("note CONTAINS 'urgent'", { note: "very urgent order" }));
  assertFalse(passes("note CONTAINS 'urgent'", { note: "routine" }));
  assertFalse(passes("note CONTAINS 'urgent'", { note: "URGENT" }));
  assert(passes("note NOT CONTAINS 'urgent'", { note: "routine" }));
  assertFalse(passes("note NOT CONTAINS 'urgent'", { note: "urgent" }));
});

Deno.test("parseSqlFilter() STARTSWITH and NOT STARTSWITH match a prefix", () => {
  assert(passes("code STARTSWITH 'FX-'", { code: "FX-001" }));
  assertFalse(passes("code STARTSWITH 'FX-'", { code: "EQ-FX-1" }));
  assert(passes("code NOT STARTSWITH 'FX-'", { code: "EQ-FX-1" }));
  assertFalse(passes("code NOT STARTSWITH 'FX-'", { code: "FX-001" }));
});

Deno.test("parseSqlFilter() ENDSWITH and NOT ENDSWITH match a suffix", () => {
  assert(passes("file ENDSWITH '.csv'", { file: "trades.csv" }));
  assertFalse(passes("file ENDSWITH '.csv'", { file: "trades.csv.gz" }));
  assert(passes("file NOT ENDSWITH '.csv'", { file: "trades.csv.gz" }));
  assertFalse(passes("file NOT ENDSWITH '.csv'", { file: "trades.csv" }));
});

Deno.test("parseSqlFilter() text operators and their negations filter out a missing property", () => {
  for (const operator of ["CONTAINS", "STARTSWITH", "ENDSWITH"]) {
    assertFalse(passes(`note ${operator} 'x'`), operator);
    assertFalse(passes(`note NOT ${operator} 'x'`), `NOT ${operator}`);
  }
});

Deno.test("parseSqlFilter() text operators treat special characters literally", () => {
  assert(passes("p CONTAINS '.*'", { p: "a.*b" }));
  assertFalse(passes("p CONTAINS '.*'", { p: "ab" }));
  assert(passes("p STARTSWITH '%'", { p: "%x" }));
  assert(passes("p ENDSWITH ''''", { p: "it's'" }));
});

// Booleans and NULL -----------------------------------------------------------

Deno.test("parseSqlFilter() compares a property with TRUE and FALSE in any case", () => {
  for (const value of ["true", "TRUE", "True"]) {
    assert(passes("vip = TRUE", { vip: value }), value);
    assert(passes("vip <> FALSE", { vip: value }), value);
    assertFalse(passes("vip = FALSE", { vip: value }), value);
  }
  assert(passes("vip = false", { vip: "False" }));
});

Deno.test("parseSqlFilter() treats a property that is not true or false compared with a boolean as a mismatch", () => {
  for (const value of ["yes", "1", "", "truee"]) {
    assertFalse(passes("vip = TRUE", { vip: value }), value);
    assertFalse(passes("vip <> TRUE", { vip: value }), value);
  }
  assertFalse(passes("vip > TRUE", { vip: "true" }));
});

Deno.test("parseSqlFilter() accepts TRUE and FALSE as whole conditions", () => {
  assert(passes("TRUE"));
  assertFalse(passes("FALSE"));
  assert(passes("NOT FALSE"));
  assert(passes("FALSE OR a = 1", { a: "1" }));
  assertFalse(passes("TRUE AND a = 1", { a: "2" }));
  assert(passes("TRUE = TRUE"));
});

Deno.test("parseSqlFilter() comparison with NULL is never true", () => {
  assertFalse(passes("a = NULL", { a: "1" }));
  assertFalse(passes("a = NULL"));
  assertFalse(passes("a <> NULL", { a: "1" }));
  assertFalse(passes("NOT (a = NULL)", { a: "1" }));
  assertFalse(passes("NULL = NULL"));
});

// Logic and precedence -------------------------------------------------------

Deno.test("parseSqlFilter() AND binds tighter than OR", () => {
  const filter = parseSqlFilter("a = 1 OR b = 1 AND c = 1");
  assert(filter.evaluate({ a: "1" }));
  assertFalse(filter.evaluate({ b: "1" }));
  assert(filter.evaluate({ b: "1", c: "1" }));
  const reversed = parseSqlFilter("a = 1 AND b = 1 OR c = 1");
  assert(reversed.evaluate({ c: "1" }));
  assertFalse(reversed.evaluate({ a: "1" }));
});

Deno.test("parseSqlFilter() NOT binds tighter than AND", () => {
  const filter = parseSqlFilter("NOT a = 1 AND b = 1");
  assert(filter.evaluate({ a: "2", b: "1" }));
  assertFalse(filter.evaluate({ a: "1", b: "1" }));
  assertFalse(filter.evaluate({ a: "2", b: "2" }));
});

Deno.test("parseSqlFilter() parentheses override precedence", () => {
  const filter = parseSqlFilter("(a = 1 OR b = 1) AND c = 1");
  assertFalse(filter.evaluate({ a: "1" }));
  assert(filter.evaluate({ a: "1", c: "1" }));
  assert(filter.evaluate({ b: "1", c: "1" }));
  const negated = parseSqlFilter("NOT (a = 1 AND b = 1)");
  assert(negated.evaluate({ a: "1", b: "2" }));
  assertFalse(negated.evaluate({ a: "1", b: "1" }));
});

Deno.test("parseSqlFilter() accepts nested parentheses and repeated NOT", () => {
  assert(passes("((((a = 1))))", { a: "1" }));
  assert(passes("NOT NOT a = 1", { a: "1" }));
  assertFalse(passes("NOT NOT NOT a = 1", { a: "1" }));
  assert(passes("NOT (NOT (a = 1))", { a: "1" }));
});

Deno.test("parseSqlFilter() chains many ORs and ANDs", () => {
  const terms = Array.from({ length: 5_000 }, (_, i) => `n = ${i}`);
  const filter = parseSqlFilter(terms.join(" OR "));
  assert(filter.evaluate({ n: "4999" }));
  assertFalse(filter.evaluate({ n: "5000" }));
  const all = parseSqlFilter(terms.map((_, i) => `n <> ${i}`).join(" AND "));
  assert(all.evaluate({ n: "-1" }));
  assertFalse(all.evaluate({ n: "17" }));
});

// Three-valued logic --------------------------------------------------------

Deno.test("parseSqlFilter() UNKNOWN OR TRUE is TRUE", () => {
  assert(passes("missing = 1 OR a = 1", { a: "1" }));
  assert(passes("a = 1 OR missing = 1", { a: "1" }));
});

Deno.test("parseSqlFilter() UNKNOWN OR FALSE is UNKNOWN and filters the message out", () => {
  assertFalse(passes("missing = 1 OR a = 1", { a: "2" }));
  assertFalse(passes("NOT (missing = 1 OR a = 1)", { a: "2" }));
});

Deno.test("parseSqlFilter() UNKNOWN AND FALSE is FALSE, so its negation passes", () => {
  assertFalse(passes("missing = 1 AND a = 1", { a: "2" }));
  assert(passes("NOT (missing = 1 AND a = 1)", { a: "2" }));
  assert(passes("NOT (a = 1 AND missing = 1)", { a: "2" }));
});

Deno.test("parseSqlFilter() UNKNOWN AND TRUE is UNKNOWN, and so is its negation", () => {
  assertFalse(passes("missing = 1 AND a = 1", { a: "1" }));
  assertFalse(passes("NOT (missing = 1 AND a = 1)", { a: "1" }));
});

Deno.test("parseSqlFilter() NOT UNKNOWN stays UNKNOWN", () => {
  assertFalse(passes("missing = 1"));
  assertFalse(passes("NOT missing = 1"));
  assertFalse(passes("missing <> 1"));
  assertFalse(passes("NOT missing <> 1"));
});

Deno.test("parseSqlFilter() a type mismatch is UNKNOWN like a missing property", () => {
  assert(passes("n > 5 OR region = 'SH'", { n: "many", region: "SH" }));
  assertFalse(passes("n > 5 OR region = 'SH'", { n: "many", region: "BJ" }));
  assert(passes("NOT (n > 5 AND region = 'SH')", { n: "many", region: "BJ" }));
});

Deno.test("parseSqlFilter() IS NULL rescues a condition on a missing property", () => {
  const filter = parseSqlFilter("region IS NULL OR region <> 'SH'");
  assert(filter.evaluate({}));
  assert(filter.evaluate({ region: "BJ" }));
  assertFalse(filter.evaluate({ region: "SH" }));
});

// Syntax errors -------------------------------------------------------------------

Deno.test("parseSqlFilter() reports the position of a missing parenthesis", () => {
  assertSqlError(
    "(a = 1 AND b = 2",
    16,
    "Cannot parse SQL filter: expected ')' but found end of input at position 16",
  );
  assertSqlError("(a = 1 AND b = 2 c = 3", 17, `expected ')' but found "c" at position 17`);
});

Deno.test("parseSqlFilter() reports an unexpected closing parenthesis", () => {
  assertSqlError("a = 1)", 5, `expected AND, OR or end of input but found ")" at position 5`);
});

Deno.test("parseSqlFilter() rejects an empty or comment-only filter", () => {
  assertSqlError("", 0, "expected a condition but found end of input at position 0");
  assertSqlError("  -- nothing", 12, "expected a condition but found end of input");
});

Deno.test("parseSqlFilter() rejects a filter that is not a boolean expression", () => {
  assertSqlError("a", 1, `expected a comparison after "a" but found end of input at position 1`);
  assertSqlError("'SH'", 4, "expected a comparison after 'SH'");
  assertSqlError("42", 2, `expected a comparison after "42"`);
  assertSqlError("NULL", 4, `expected a comparison after "NULL"`);
  assertSqlError("a = 1 AND b", 11, `expected a comparison after "b"`);
});

Deno.test("parseSqlFilter() reports a missing right-hand side", () => {
  assertSqlError(
    "a =",
    3,
    "expected a property name or literal but found end of input at position 3",
  );
  assertSqlError("a = AND b = 1", 4, `expected a property name or literal but found "AND"`);
});

Deno.test("parseSqlFilter() reports a dangling AND, OR or NOT", () => {
  assertSqlError("a = 1 AND", 9, "expected a condition but found end of input at position 9");
  assertSqlError("a = 1 OR OR b = 1", 9, `expected a condition but found "OR" at position 9`);
  assertSqlError("AND a = 1", 0, `expected a condition but found "AND" at position 0`);
  assertSqlError("NOT", 3, "expected a condition but found end of input at position 3");
});

Deno.test("parseSqlFilter() rejects two conditions without AND or OR", () => {
  assertSqlError("a = 1 b = 2", 6, `expected AND, OR or end of input but found "b" at position 6`);
  assertSqlError("a = 1 = 2", 6, `expected AND, OR or end of input but found "=" at position 6`);
});

Deno.test("parseSqlFilter() rejects operators it does not know", () => {
  assertSqlError("a != 1", 2, `unexpected character "!" at position 2`);
  assertSqlError("a == 1", 3, `expected a property name or literal but found "=" at position 3`);
  assertSqlError("a = 1 && b = 2", 6, `unexpected character "&" at position 6`);
  assertSqlError(
    "a LIKE 'x%'",
    2,
    `expected a comparison after "a" but found "LIKE" at position 2`,
  );
});

Deno.test("parseSqlFilter() requires a NOT before a predicate to be followed by one it can negate", () => {
  assertSqlError(
    "a NOT = 1",
    6,
    `expected BETWEEN, IN, CONTAINS, STARTSWITH or ENDSWITH after NOT but found "=" at position 6`,
  );
});

Deno.test("parseSqlFilter() requires NULL after IS or IS NOT", () => {
  assertSqlError("a IS 5", 5, `expected NULL but found "5" at position 5`);
  assertSqlError("a IS NOT TRUE", 9, `expected NULL but found "TRUE" at position 9`);
});

Deno.test("parseSqlFilter() requires AND between BETWEEN bounds", () => {
  assertSqlError("n BETWEEN 1 OR 5", 12, `expected AND but found "OR" at position 12`);
  assertSqlError("n BETWEEN 1", 11, "expected AND but found end of input at position 11");
});

Deno.test("parseSqlFilter() accepts only string literals in an IN list", () => {
  assertSqlError("n IN (1, 2)", 6, `expected a string literal but found "1" at position 6`);
  assertSqlError("n IN ('a', b)", 11, `expected a string literal but found "b" at position 11`);
  assertSqlError("n IN ()", 6, `expected a string literal but found ")" at position 6`);
  assertSqlError("n IN 'a'", 5, `expected '(' but found 'a' at position 5`);
  assertSqlError("n IN ('a' 'b')", 10, `expected ')' but found 'b' at position 10`);
});

Deno.test("parseSqlFilter() accepts only a string literal after CONTAINS, STARTSWITH or ENDSWITH", () => {
  assertSqlError("a CONTAINS 5", 11, `expected a string literal but found "5" at position 11`);
  assertSqlError("a NOT STARTSWITH b", 17, `expected a string literal but found "b"`);
  assertSqlError("a ENDSWITH", 10, "expected a string literal but found end of input");
});

Deno.test("parseSqlFilter() reports an unterminated string at its opening quote", () => {
  assertSqlError("name = 'abc", 7, "unterminated string literal at position 7");
  assertSqlError("name = 'it''s", 7, "unterminated string literal at position 7");
});

Deno.test("parseSqlFilter() reports an unterminated block comment at its start", () => {
  assertSqlError("a = 1 /* never closed", 6, "unterminated comment at position 6");
});

Deno.test("parseSqlFilter() rejects malformed numbers", () => {
  assertSqlError("n = 5E", 4, `invalid number "5E" at position 4`);
  assertSqlError("n = 1e+", 4, `invalid number "1e+" at position 4`);
  assertSqlError("n = 12abc", 4, `invalid number "12abc" at position 4`);
  assertSqlError("n = 1.2.3", 4, `invalid number "1.2.3" at position 4`);
  assertSqlError("n = 1.5L", 4, `invalid number "1.5L" at position 4`);
});

Deno.test("parseSqlFilter() rejects a lone minus sign", () => {
  assertSqlError("n = - 5", 4, `unexpected character "-" at position 4`);
});

Deno.test("parseSqlFilter() rejects nesting deeper than 100 levels", () => {
  const deep = `${"(".repeat(101)}a = 1${")".repeat(101)}`;
  assertSqlError(deep, 100, "nested deeper than 100 levels at position 100");
  const ok = `${"(".repeat(100)}a = 1${")".repeat(100)}`;
  assert(parseSqlFilter(ok).evaluate({ a: "1" }));
  assertSqlError(`${"NOT ".repeat(101)}a = 1`, 400, "nested deeper than 100 levels");
});

Deno.test("SqlFilterError carries a 0-based position and its own name", () => {
  const error = new SqlFilterError("Cannot parse SQL filter: boom at position 3", 3);
  assertInstanceOf(error, Error);
  assertEquals(error.name, "SqlFilterError");
  assertEquals(error.position, 3);
});
