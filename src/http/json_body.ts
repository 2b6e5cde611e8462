/**
 * Strict reading of JSON request bodies, before a route validates them.
 * `JSON.parse` alone lets through what the broker cannot keep as sent: a
 * number too large for a double (`1e309` becomes `Infinity`, stored as
 * `null`), an integer literal past 2^53 (silently rounded), and keys that
 * JavaScript objects treat specially (`__proto__` is dropped by the schema's
 * record copy, `constructor`/`prototype` invite prototype pollution
 * downstream). Hono's JSON validator also reads a request without a body
 * or content type as `{}`. {@linkcode readJsonBody} runs on every route
 * that declares a JSON body and refuses all of these with a problem that
 * names the field; the route's zod schema then validates the same text.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { ValidationError } from "../domain/errors.ts";
import { MAX_JSON_DEPTH } from "../domain/names.ts";

/** Keys refused anywhere in a JSON body. */
export const REFUSED_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

/** A value the reviver refused, kept in place so the walk can name its path. */
class Refused {
  constructor(readonly reason: string) {}
}

/** An integer literal: no fraction, no exponent. */
const INTEGER_LITERAL = /^-?(?:0|[1-9][0-9]*)$/;

/** A media type JSON bodies may come as (`application/json`, `application/x+json`, with parameters). */
const JSON_MEDIA_TYPE = /^application\/(?:[\w.-]+\+)?json$/i;

function refuseNumber(_key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value !== "number") return value;
  if (!Number.isFinite(value)) {
    return new Refused(`number ${context?.source ?? ""} is too large for JSON to represent`);
  }
  const source = context?.source;
  if (source !== undefined && INTEGER_LITERAL.test(source) && !Number.isSafeInteger(value)) {
    return new Refused(
      `integer ${source} is past ±${Number.MAX_SAFE_INTEGER} and cannot be kept exactly; send it as a string`,
    );
  }
  return value;
}

/** A 400 naming `path` (segments after `json`). */
function issue(path: readonly string[], message: string): ValidationError {
  const where = ["json", ...path].join(".");
  return new ValidationError(`${where}: ${message}`, { issues: [{ path: where, message }] });
}

/** A node of the walk: its value and how it was reached. */
interface Node {
  readonly value: unknown;
  readonly parent: Node | undefined;
  readonly key: string;
  readonly depth: number;
}

function pathOf(node: Node): string[] {
  const path: string[] = [];
  for (let at: Node | undefined = node; at?.parent !== undefined; at = at.parent) {
    path.unshift(at.key);
  }
  return path;
}

/**
 * Parses JSON text strictly: the result is what was sent, or a
 * {@linkcode ValidationError} naming the field (`json.a.0.b`) is thrown for
 * malformed text, a number JSON cannot represent or an integer past 2^53,
 * a `__proto__`, `constructor` or `prototype` key, or nesting deeper than
 * {@linkcode MAX_JSON_DEPTH}.
 *
 * @param text The request body.
 * @returns The parsed value.
 * @throws {ValidationError} naming the first offending field.
 *
 * @example Refuse a number that would become Infinity
 * ```ts
 * import { parseStrictJson } from "./json_body.ts";
 * parseStrictJson('{"amount": 12.5}'); // { amount: 12.5 }
 * try {
 *   parseStrictJson('{"body": 1e309}');
 * } catch (error) {
 *   console.log((error as Error).message); // json.body: number 1e309 is too large for JSON to represent
 * }
 * ```
 */
export function parseStrictJson(text: string): unknown {
  let plain: unknown;
  try {
    plain = JSON.parse(text);
  } catch (error) {
    if (error instanceof SyntaxError) throw issue([], `Malformed JSON: ${error.message}`);
    throw error;
  }
  // Most bodies hold nothing to refuse: one walk without paths proves it. Anything it
  // doubts (a key, the depth, a number past what a double keeps exactly) is read again
  // with the number's source text, which decides and names the field.
  return isPlainJson(plain) ? plain : parseStrictly(text);
}

/** Whether a parsed value has no refused key, no nesting past the limit and only exact numbers. */
function isPlainJson(root: unknown): boolean {
  const values: unknown[] = [root];
  const depths: number[] = [0];
  while (values.length > 0) {
    const value = values.pop();
    const depth = depths.pop()!;
    if (typeof value === "number") {
      if (!Number.isFinite(value) || (Number.isInteger(value) && !Number.isSafeInteger(value))) {
        return false;
      }
      continue;
    }
    if (typeof value !== "object" || value === null) continue;
    if (depth >= MAX_JSON_DEPTH) return false;
    if (Array.isArray(value)) {
      for (const item of value) {
        values.push(item);
        depths.push(depth + 1);
      }
      continue;
    }
    for (const key in value) {
      if (REFUSED_KEYS.has(key)) return false;
      values.push((value as Record<string, unknown>)[key]);
      depths.push(depth + 1);
    }
  }
  return true;
}

/** {@linkcode parseStrictJson} with every number's source text: slower, exact, names the field. */
function parseStrictly(text: string): unknown {
  let root: unknown;
  try {
    root = JSON.parse(text, refuseNumber);
  } catch (error) {
    if (error instanceof SyntaxError) {
      throw issue([], `Malformed JSON: ${error.message}`);
    }
    // The reviver recurses: nesting past the stack is past MAX_JSON_DEPTH too.
    if (error instanceof RangeError) {
      throw issue([], `nested deeper than ${MAX_JSON_DEPTH} levels`);
    }
    throw error;
  }
  const stack: Node[] = [{ value: root, parent: undefined, key: "", depth: 0 }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const { value } = node;
    if (value instanceof Refused) throw issue(pathOf(node), value.reason);
    if (typeof value !== "object" || value === null) continue;
    if (node.depth >= MAX_JSON_DEPTH) {
      throw issue(pathOf(node), `nested deeper than ${MAX_JSON_DEPTH} levels`);
    }
    const depth = node.depth + 1;
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) {
        stack.push({ value: value[i], parent: node, key: String(i), depth });
      }
      continue;
    }
    const entries = Object.entries(value);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, item] = entries[i]!;
      const child = { value: item, parent: node, key, depth };
      if (REFUSED_KEYS.has(key)) throw issue(pathOf(child), `key ${key} is not accepted`);
      stack.push(child);
    }
  }
  return root;
}

/**
 * Middleware for a route with a JSON body: the body is required (a 400
 * naming `json` when it is empty, whatever the content type), must be sent
 * as `application/json` (a 415 otherwise) and must pass
 * {@linkcode parseStrictJson}. The route's validator reads the value parsed
 * here: the body is read and parsed once.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { readJsonBody } from "./json_body.ts";
 * new Hono().post("/x", readJsonBody, async (c) => c.json(await c.req.json()));
 * ```
 */
export const readJsonBody: MiddlewareHandler = async (c, next) => {
  const text = await c.req.text();
  if (text.length === 0) {
    throw issue([], "a JSON body is required");
  }
  const type = c.req.header("content-type");
  const mediaType = type?.split(";")[0]?.trim() ?? "";
  if (!JSON_MEDIA_TYPE.test(mediaType)) {
    throw new HTTPException(415, {
      message: `Cannot read the body: it must be application/json, current content type is ${
        type === undefined ? "none" : JSON.stringify(type)
      }`,
    });
  }
  const value = parseStrictJson(text);
  // The route's validator asks for the JSON again (Hono parses the cached text each time):
  // this request answers with the value read here, so the body is parsed once.
  c.req.json = <T>() => Promise.resolve(value as T);
  await next();
};
