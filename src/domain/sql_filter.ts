/**
 * SQL92 property filters, the JMS-selector subset RocketMQ consumers subscribe
 * with (`amount > 100 AND region = 'SH'`). A filter is parsed once into a
 * syntax tree and compiled into closures, because it then runs for every
 * message of every subscribed group. Evaluation uses SQL's three-valued logic:
 * a missing property or a type mismatch makes a comparison UNKNOWN, and only a
 * final TRUE lets the message through.
 *
 * @module
 */

/**
 * Thrown by {@linkcode parseSqlFilter} when the source is not a valid filter.
 *
 * @example
 * ```ts
 * import { parseSqlFilter, SqlFilterError } from "./sql_filter.ts";
 * try {
 *   parseSqlFilter("(amount > 100");
 * } catch (error) {
 *   if (error instanceof SqlFilterError) console.log(error.position); // 13
 * }
 * ```
 */
export class SqlFilterError extends Error {
  /** 0-based character offset in the source where the problem was found. */
  readonly position: number;

  /**
   * Creates the error; `message` already names the problem and its position.
   *
   * @param message The full message.
   * @param position 0-based character offset of the problem.
   */
  constructor(message: string, position: number) {
    super(message);
    this.name = "SqlFilterError";
    this.position = position;
  }
}

/**
 * A compiled filter, safe to share and to evaluate concurrently.
 *
 * @example
 * ```ts
 * import { parseSqlFilter, type SqlFilter } from "./sql_filter.ts";
 * const filter: SqlFilter = parseSqlFilter("region = 'SH'");
 * filter.evaluate({ region: "SH" }); // true
 * filter.source; // "region = 'SH'"
 * ```
 */
export interface SqlFilter {
  /** The text the filter was parsed from. */
  readonly source: string;
  /**
   * Tells whether a message passes the filter.
   *
   * @param properties The message's user properties.
   * @param tag The message tag, read by the identifier `TAGS`.
   * @returns `true` only if the filter evaluates to TRUE (not FALSE or UNKNOWN).
   */
  evaluate(properties: Readonly<Record<string, string>>, tag?: string): boolean;
}

/**
 * Parses and compiles a filter.
 *
 * Keywords are case-insensitive, property names are not. The identifier `TAGS`
 * names the message tag. A property compared with a number is read as a
 * number; with `TRUE`/`FALSE`, as `true`/`false` in any case; anything else is
 * a type mismatch, which makes the comparison UNKNOWN. Strings compare only
 * with `=` and `<>`.
 *
 * @param source The filter, e.g. `amount > 100 AND region = 'SH'`.
 * @returns The compiled filter.
 * @throws {SqlFilterError} If the source is not a valid boolean expression.
 *
 * @example
 * ```ts
 * import { parseSqlFilter } from "./sql_filter.ts";
 * import { assert } from "@std/assert/assert";
 * import { assertFalse } from "@std/assert/false";
 * const filter = parseSqlFilter("amount > 100 AND region = 'SH'");
 * assert(filter.evaluate({ amount: "250", region: "SH" }));
 * assertFalse(filter.evaluate({ amount: "250" })); // region missing: UNKNOWN
 * ```
 */
export function parseSqlFilter(source: string): SqlFilter {
  const tree = new Parser(tokenize(source)).parse();
  const test = compile(tree);
  return Object.freeze({
    source,
    evaluate(properties: Readonly<Record<string, string>>, tag?: string): boolean {
      return test(properties, tag) === true;
    },
  });
}

// ---------------------------------------------------------------------------
// Tokens

const KEYWORDS = [
  "AND",
  "OR",
  "NOT",
  "BETWEEN",
  "IN",
  "IS",
  "NULL",
  "TRUE",
  "FALSE",
  "CONTAINS",
  "STARTSWITH",
  "ENDSWITH",
] as const;
type Keyword = typeof KEYWORDS[number];
const KEYWORD_SET: ReadonlySet<string> = new Set(KEYWORDS);

type ComparisonOperator = "=" | "<>" | ">" | ">=" | "<" | "<=";
type Punctuation = "(" | ")" | ",";

type Token =
  & { readonly text: string; readonly position: number }
  & (
    | { readonly kind: "identifier" | "end" }
    | { readonly kind: "keyword"; readonly keyword: Keyword }
    | { readonly kind: "number"; readonly value: number }
    | { readonly kind: "string"; readonly value: string }
    | { readonly kind: "operator"; readonly operator: ComparisonOperator }
    | { readonly kind: "punctuation"; readonly punctuation: Punctuation }
  );

const WHITESPACE = /\s/;
const DIGIT = /[0-9]/;
const IDENTIFIER_START = /[A-Za-z_$]/;
const IDENTIFIER_PART = /[A-Za-z0-9_$.]/;
const OPERATORS: readonly ComparisonOperator[] = ["<>", "<=", ">=", "=", "<", ">"];

function fail(detail: string, position: number): never {
  throw new SqlFilterError(`Cannot parse SQL filter: ${detail} at position ${position}`, position);
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  const length = source.length;
  let i = 0;
  while (i < length) {
    const char = source.charAt(i);
    const following = source.charAt(i + 1);
    if (WHITESPACE.test(char)) {
      i++;
    } else if (char === "-" && following === "-") {
      const newline = source.indexOf("\n", i + 2);
      i = newline === -1 ? length : newline + 1;
    } else if (char === "/" && following === "*") {
      const close = source.indexOf("*/", i + 2);
      if (close === -1) fail("unterminated comment", i);
      i = close + 2;
    } else if (char === "'") {
      i = lexString(source, i, tokens);
    } else if (startsNumber(source, i)) {
      i = lexNumber(source, i, tokens);
    } else if (IDENTIFIER_START.test(char)) {
      let end = i + 1;
      while (end < length && IDENTIFIER_PART.test(source.charAt(end))) end++;
      const text = source.slice(i, end);
      const upper = text.toUpperCase();
      tokens.push(
        KEYWORD_SET.has(upper)
          ? { kind: "keyword", keyword: upper as Keyword, text, position: i }
          : { kind: "identifier", text, position: i },
      );
      i = end;
    } else if (char === "(" || char === ")" || char === ",") {
      tokens.push({ kind: "punctuation", punctuation: char, text: char, position: i });
      i++;
    } else {
      const operator = OPERATORS.find((candidate) => source.startsWith(candidate, i));
      if (operator === undefined) fail(`unexpected character ${JSON.stringify(char)}`, i);
      tokens.push({ kind: "operator", operator, text: operator, position: i });
      i += operator.length;
    }
  }
  tokens.push({ kind: "end", text: "", position: length });
  return tokens;
}

/** Reads a `'...'` literal in which `''` stands for one quote; returns the end. */
function lexString(source: string, start: number, tokens: Token[]): number {
  let value = "";
  let from = start + 1;
  while (true) {
    const quote = source.indexOf("'", from);
    if (quote === -1) fail("unterminated string literal", start);
    value += source.slice(from, quote);
    if (source.charAt(quote + 1) !== "'") {
      const end = quote + 1;
      tokens.push({ kind: "string", value, text: source.slice(start, end), position: start });
      return end;
    }
    value += "'";
    from = quote + 2;
  }
}

function startsNumber(source: string, i: number): boolean {
  const at = source.charAt(i) === "-" ? i + 1 : i;
  if (DIGIT.test(source.charAt(at))) return true;
  return source.charAt(at) === "." && DIGIT.test(source.charAt(at + 1));
}

/**
 * Reads `123`, `-5`, `10L`, `3.14`, `.5`, `5E10` or `1.5e-3`; returns the end.
 * A number running straight into letters (`12ab`, `1.2.3`) is rejected rather
 * than split into two tokens.
 */
function lexNumber(source: string, start: number, tokens: Token[]): number {
  let i = start;
  if (source.charAt(i) === "-") i++;
  while (DIGIT.test(source.charAt(i))) i++;
  let integer = true;
  if (source.charAt(i) === ".") {
    integer = false;
    i++;
    while (DIGIT.test(source.charAt(i))) i++;
  }
  if (source.charAt(i) === "e" || source.charAt(i) === "E") {
    integer = false;
    i++;
    if (source.charAt(i) === "+" || source.charAt(i) === "-") i++;
    if (!DIGIT.test(source.charAt(i))) {
      fail(`invalid number ${JSON.stringify(source.slice(start, i))}`, start);
    }
    while (DIGIT.test(source.charAt(i))) i++;
  }
  const digitsEnd = i;
  if (integer && (source.charAt(i) === "L" || source.charAt(i) === "l")) i++;
  if (IDENTIFIER_PART.test(source.charAt(i))) {
    let end = i;
    while (IDENTIFIER_PART.test(source.charAt(end))) end++;
    fail(`invalid number ${JSON.stringify(source.slice(start, end))}`, start);
  }
  tokens.push({
    kind: "number",
    value: Number(source.slice(start, digitsEnd)),
    text: source.slice(start, i),
    position: start,
  });
  return i;
}

// ---------------------------------------------------------------------------
// Syntax tree

type Literal = string | number | boolean | null;

type Operand =
  | { readonly kind: "property"; readonly name: string }
  | { readonly kind: "tags" }
  | { readonly kind: "literal"; readonly value: Literal };

type TextOperator = "CONTAINS" | "STARTSWITH" | "ENDSWITH";

type Condition =
  | { readonly kind: "or"; readonly operands: readonly Condition[] }
  | { readonly kind: "and"; readonly operands: readonly Condition[] }
  | { readonly kind: "not"; readonly operand: Condition }
  | { readonly kind: "constant"; readonly value: boolean }
  | {
    readonly kind: "compare";
    readonly operator: ComparisonOperator;
    readonly left: Operand;
    readonly right: Operand;
  }
  | {
    readonly kind: "between";
    readonly negated: boolean;
    readonly value: Operand;
    readonly low: Operand;
    readonly high: Operand;
  }
  | {
    readonly kind: "in";
    readonly negated: boolean;
    readonly value: Operand;
    readonly list: readonly string[];
  }
  | { readonly kind: "isNull"; readonly negated: boolean; readonly value: Operand }
  | {
    readonly kind: "text";
    readonly operator: TextOperator;
    readonly negated: boolean;
    readonly value: Operand;
    readonly pattern: string;
  };

/** Deep enough for any hand-written filter, shallow enough not to overflow the stack. */
const MAX_DEPTH = 100;
const TAGS = "TAGS";

function describe(token: Token): string {
  if (token.kind === "end") return "end of input";
  if (token.kind === "string") return token.text;
  return JSON.stringify(token.text);
}

function isKeyword(token: Token, keyword: Keyword): boolean {
  return token.kind === "keyword" && token.keyword === keyword;
}

function isPunctuation(token: Token, punctuation: Punctuation): boolean {
  return token.kind === "punctuation" && token.punctuation === punctuation;
}

/**
 * Recursive descent over the grammar
 *
 * ```
 * or        := and (OR and)*
 * and       := not (AND not)*
 * not       := NOT not | '(' or ')' | predicate
 * predicate := operand comparison-op operand
 *            | operand IS [NOT] NULL
 *            | operand [NOT] BETWEEN operand AND operand
 *            | operand [NOT] IN '(' string (',' string)* ')'
 *            | operand [NOT] (CONTAINS | STARTSWITH | ENDSWITH) string
 *            | TRUE | FALSE
 * operand   := identifier | number | string | TRUE | FALSE | NULL
 * ```
 */
class Parser {
  readonly #tokens: readonly Token[];
  #index = 0;
  #depth = 0;

  constructor(tokens: readonly Token[]) {
    this.#tokens = tokens;
  }

  parse(): Condition {
    const condition = this.#or();
    const token = this.#peek();
    if (token.kind !== "end") {
      fail(`expected AND, OR or end of input but found ${describe(token)}`, token.position);
    }
    return condition;
  }

  #peek(offset = 0): Token {
    // The end token is always last, so reading past it keeps returning it.
    return this.#tokens[Math.min(this.#index + offset, this.#tokens.length - 1)]!;
  }

  #next(): Token {
    const token = this.#peek();
    if (token.kind !== "end") this.#index++;
    return token;
  }

  #expectPunctuation(punctuation: Punctuation): void {
    const token = this.#next();
    if (!isPunctuation(token, punctuation)) {
      fail(`expected '${punctuation}' but found ${describe(token)}`, token.position);
    }
  }

  #enter(token: Token): void {
    if (++this.#depth > MAX_DEPTH) {
      fail(`expression nested deeper than ${MAX_DEPTH} levels`, token.position);
    }
  }

  #or(): Condition {
    const operands = [this.#and()];
    while (isKeyword(this.#peek(), "OR")) {
      this.#next();
      operands.push(this.#and());
    }
    return operands.length === 1 ? operands[0]! : { kind: "or", operands };
  }

  #and(): Condition {
    const operands = [this.#not()];
    while (isKeyword(this.#peek(), "AND")) {
      this.#next();
      operands.push(this.#not());
    }
    return operands.length === 1 ? operands[0]! : { kind: "and", operands };
  }

  #not(): Condition {
    const token = this.#peek();
    if (isKeyword(token, "NOT")) {
      this.#next();
      this.#enter(token);
      const operand = this.#not();
      this.#depth--;
      return { kind: "not", operand };
    }
    if (isPunctuation(token, "(")) {
      this.#next();
      this.#enter(token);
      const condition = this.#or();
      this.#expectPunctuation(")");
      this.#depth--;
      return condition;
    }
    return this.#predicate();
  }

  #predicate(): Condition {
    const start = this.#peek();
    const value = this.#operand("a condition");
    const token = this.#peek();
    if (token.kind === "operator") {
      this.#next();
      return { kind: "compare", operator: token.operator, left: value, right: this.#operand() };
    }
    if (isKeyword(token, "IS")) {
      this.#next();
      const negated = isKeyword(this.#peek(), "NOT");
      if (negated) this.#next();
      const keyword = this.#next();
      if (!isKeyword(keyword, "NULL")) {
        fail(`expected NULL but found ${describe(keyword)}`, keyword.position);
      }
      return { kind: "isNull", negated, value };
    }
    const negated = isKeyword(token, "NOT");
    const operator = negated ? this.#peek(1) : token;
    const width = negated ? 2 : 1;
    if (operator.kind === "keyword") {
      switch (operator.keyword) {
        case "BETWEEN": {
          this.#index += width;
          const low = this.#operand();
          const and = this.#next();
          if (!isKeyword(and, "AND")) {
            fail(`expected AND but found ${describe(and)}`, and.position);
          }
          return { kind: "between", negated, value, low, high: this.#operand() };
        }
        case "IN": {
          this.#index += width;
          this.#expectPunctuation("(");
          const list = [this.#string()];
          while (isPunctuation(this.#peek(), ",")) {
            this.#next();
            list.push(this.#string());
          }
          this.#expectPunctuation(")");
          return { kind: "in", negated, value, list };
        }
        case "CONTAINS":
        case "STARTSWITH":
        case "ENDSWITH": {
          this.#index += width;
          const pattern = this.#string();
          return { kind: "text", operator: operator.keyword, negated, value, pattern };
        }
      }
    }
    if (negated) {
      fail(
        `expected BETWEEN, IN, CONTAINS, STARTSWITH or ENDSWITH after NOT but found ${
          describe(operator)
        }`,
        operator.position,
      );
    }
    if (value.kind === "literal" && typeof value.value === "boolean") {
      return { kind: "constant", value: value.value };
    }
    fail(
      `expected a comparison after ${describe(start)} but found ${describe(token)}`,
      token.position,
    );
  }

  #operand(expected = "a property name or literal"): Operand {
    const token = this.#next();
    switch (token.kind) {
      case "identifier":
        return token.text === TAGS ? { kind: "tags" } : { kind: "property", name: token.text };
      case "number":
      case "string":
        return { kind: "literal", value: token.value };
      case "keyword":
        if (token.keyword === "TRUE") return { kind: "literal", value: true };
        if (token.keyword === "FALSE") return { kind: "literal", value: false };
        if (token.keyword === "NULL") return { kind: "literal", value: null };
    }
    return fail(`expected ${expected} but found ${describe(token)}`, token.position);
  }

  #string(): string {
    const token = this.#next();
    if (token.kind !== "string") {
      fail(`expected a string literal but found ${describe(token)}`, token.position);
    }
    return token.value;
  }
}

// ---------------------------------------------------------------------------
// Compilation

type Properties = Readonly<Record<string, string>>;
/** TRUE, FALSE, or `null` for UNKNOWN. */
type Truth = boolean | null;
type Test = (properties: Properties, tag: string | undefined) => Truth;
/** Reads an operand as one type; `null` when missing or of another type. */
type Read<T> = (properties: Properties, tag: string | undefined) => T | null;

const UNKNOWN: Test = () => null;
const NUMERIC = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

const ORDER: Record<ComparisonOperator, (left: number, right: number) => boolean> = {
  "=": (left, right) => left === right,
  "<>": (left, right) => left !== right,
  ">": (left, right) => left > right,
  ">=": (left, right) => left >= right,
  "<": (left, right) => left < right,
  "<=": (left, right) => left <= right,
};

const TEXT: Record<TextOperator, (value: string, pattern: string) => boolean> = {
  CONTAINS: (value, pattern) => value.includes(pattern),
  STARTSWITH: (value, pattern) => value.startsWith(pattern),
  ENDSWITH: (value, pattern) => value.endsWith(pattern),
};

function compile(condition: Condition): Test {
  switch (condition.kind) {
    case "or":
      return compileOr(condition.operands.map(compile));
    case "and":
      return compileAnd(condition.operands.map(compile));
    case "not":
      return negate(compile(condition.operand));
    case "constant": {
      const value = condition.value;
      return () => value;
    }
    case "compare":
      return compileComparison(condition.operator, condition.left, condition.right);
    case "between": {
      const test = compileAnd([
        compileComparison(">=", condition.value, condition.low),
        compileComparison("<=", condition.value, condition.high),
      ]);
      return condition.negated ? negate(test) : test;
    }
    case "in": {
      const read = readString(condition.value);
      const list = new Set(condition.list);
      const expected = !condition.negated;
      return (properties, tag) => {
        const value = read(properties, tag);
        return value === null ? null : list.has(value) === expected;
      };
    }
    case "isNull": {
      const present = readPresence(condition.value);
      const expected = condition.negated;
      return (properties, tag) => present(properties, tag) === expected;
    }
    case "text": {
      const read = readString(condition.value);
      const match = TEXT[condition.operator];
      const pattern = condition.pattern;
      const expected = !condition.negated;
      return (properties, tag) => {
        const value = read(properties, tag);
        return value === null ? null : match(value, pattern) === expected;
      };
    }
  }
}

function compileOr(tests: readonly Test[]): Test {
  return (properties, tag) => {
    let unknown = false;
    for (const test of tests) {
      const result = test(properties, tag);
      if (result === true) return true;
      if (result === null) unknown = true;
    }
    return unknown ? null : false;
  };
}

function compileAnd(tests: readonly Test[]): Test {
  return (properties, tag) => {
    let unknown = false;
    for (const test of tests) {
      const result = test(properties, tag);
      if (result === false) return false;
      if (result === null) unknown = true;
    }
    return unknown ? null : true;
  };
}

function negate(test: Test): Test {
  return (properties, tag) => {
    const result = test(properties, tag);
    return result === null ? null : !result;
  };
}

type LiteralType = "string" | "number" | "boolean" | "null";

function typeOf(value: Literal): LiteralType {
  return value === null ? "null" : typeof value as Exclude<LiteralType, "null">;
}

function isLiteral(operand: Operand, type: LiteralType): boolean {
  return operand.kind === "literal" && typeOf(operand.value) === type;
}

/**
 * The literal on either side decides how a comparison reads its operands:
 * as numbers, as booleans, or (between properties and strings) as strings.
 */
function compileComparison(operator: ComparisonOperator, left: Operand, right: Operand): Test {
  if (isLiteral(left, "null") || isLiteral(right, "null")) return UNKNOWN;
  if (isLiteral(left, "number") || isLiteral(right, "number")) {
    return compareWith(ORDER[operator], readNumber(left), readNumber(right));
  }
  if (operator !== "=" && operator !== "<>") return UNKNOWN;
  const equal = operator === "=";
  const same = (a: unknown, b: unknown) => (a === b) === equal;
  if (isLiteral(left, "boolean") || isLiteral(right, "boolean")) {
    return compareWith(same, readBoolean(left), readBoolean(right));
  }
  return compareWith(same, readString(left), readString(right));
}

function compareWith<T>(
  compare: (left: T, right: T) => boolean,
  readLeft: Read<T>,
  readRight: Read<T>,
): Test {
  return (properties, tag) => {
    const left = readLeft(properties, tag);
    if (left === null) return null;
    const right = readRight(properties, tag);
    return right === null ? null : compare(left, right);
  };
}

/** Reads a property or the tag as its raw string; `null` when absent. */
function readRaw(operand: Operand & { kind: "property" | "tags" }): Read<string> {
  if (operand.kind === "tags") return (_properties, tag) => tag ?? null;
  const name = operand.name;
  // hasOwn keeps names such as `constructor` from reaching Object.prototype.
  return (properties) => Object.hasOwn(properties, name) ? properties[name] ?? null : null;
}

function readLiteral<T>(value: Literal, type: LiteralType): Read<T> {
  const result = typeOf(value) === type ? value as T : null;
  return () => result;
}

function readString(operand: Operand): Read<string> {
  return operand.kind === "literal" ? readLiteral(operand.value, "string") : readRaw(operand);
}

function readNumber(operand: Operand): Read<number> {
  if (operand.kind === "literal") return readLiteral(operand.value, "number");
  const read = readRaw(operand);
  return (properties, tag) => {
    const value = read(properties, tag);
    return value !== null && NUMERIC.test(value) ? Number(value) : null;
  };
}

function readBoolean(operand: Operand): Read<boolean> {
  if (operand.kind === "literal") return readLiteral(operand.value, "boolean");
  const read = readRaw(operand);
  return (properties, tag) => {
    const value = read(properties, tag);
    if (value === null || (value.length !== 4 && value.length !== 5)) return null;
    const lower = value.toLowerCase();
    return lower === "true" ? true : lower === "false" ? false : null;
  };
}

function readPresence(operand: Operand): Read<boolean> {
  if (operand.kind === "literal") {
    const present = operand.value !== null;
    return () => present;
  }
  const read = readRaw(operand);
  return (properties, tag) => read(properties, tag) !== null;
}
