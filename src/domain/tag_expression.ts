/**
 * Tag subscription expressions, as RocketMQ consumers write them: `*` for every
 * message, one tag, or several tags joined by `||` (`Ops || Orchestration`).
 * Parsed once when a group subscribes, then matched against each message tag.
 *
 * @module
 */

import { TAG_PATTERN } from "./names.ts";

/**
 * A parsed tag expression: either every message, or the messages whose tag is
 * one of `tags` (duplicates removed, in the order written).
 *
 * @example
 * ```ts
 * import type { TagExpression } from "./tag_expression.ts";
 * const everything: TagExpression = { all: true };
 * const ops: TagExpression = { all: false, tags: ["Ops", "Orchestration"] };
 * ```
 */
export type TagExpression =
  | { readonly all: true }
  | { readonly all: false; readonly tags: readonly string[] };

/**
 * Thrown by {@linkcode parseTagExpression} when the source is not a valid tag
 * expression.
 *
 * @example
 * ```ts
 * import { parseTagExpression, TagExpressionError } from "./tag_expression.ts";
 * try {
 *   parseTagExpression("Ops ||");
 * } catch (error) {
 *   if (error instanceof TagExpressionError) console.log(error.position); // 6
 * }
 * ```
 */
export class TagExpressionError extends Error {
  /** 0-based character offset in the source where the problem starts. */
  readonly position: number;

  /**
   * Creates the error; `message` already names the problem and its position.
   *
   * @param message The full message.
   * @param position 0-based character offset of the problem.
   */
  constructor(message: string, position: number) {
    super(message);
    this.name = "TagExpressionError";
    this.position = position;
  }
}

const SEPARATOR = "||";
const ALL = "*";
const MATCH_ALL: TagExpression = Object.freeze({ all: true });

/**
 * Parses a tag expression. A blank source means `*`, as in RocketMQ.
 *
 * @param source The expression, e.g. `*`, `Ops` or `Ops || Orchestration`.
 * @returns The parsed expression.
 * @throws {TagExpressionError} If a tag is empty or malformed, or `*` is
 * combined with other tags.
 *
 * @example
 * ```ts
 * import { parseTagExpression } from "./tag_expression.ts";
 * import { assertEquals } from "@std/assert/equals";
 * assertEquals(parseTagExpression("Ops || Orchestration"), {
 *   all: false,
 *   tags: ["Ops", "Orchestration"],
 * });
 * assertEquals(parseTagExpression("*"), { all: true });
 * ```
 */
export function parseTagExpression(source: string): TagExpression {
  if (source.trim() === "") return MATCH_ALL;
  const tags: string[] = [];
  let allPosition = -1;
  let segmentCount = 0;
  let start = 0;
  while (true) {
    const separator = source.indexOf(SEPARATOR, start);
    const end = separator === -1 ? source.length : separator;
    const segment = source.slice(start, end);
    const tag = segment.trim();
    const position = start + segment.length - segment.trimStart().length;
    segmentCount++;
    if (tag === "") {
      throw new TagExpressionError(
        `Cannot parse tag expression: empty tag at position ${position}`,
        position,
      );
    }
    if (tag === ALL) {
      if (allPosition === -1) allPosition = position;
    } else if (!TAG_PATTERN.test(tag)) {
      throw new TagExpressionError(
        `Cannot parse tag expression: invalid tag ${
          JSON.stringify(tag)
        } at position ${position} (a tag is 1 to 64 of A-Z a-z 0-9 _ . -)`,
        position,
      );
    } else if (!tags.includes(tag)) {
      tags.push(tag);
    }
    if (separator === -1) break;
    start = separator + SEPARATOR.length;
  }
  if (allPosition !== -1) {
    if (segmentCount > 1) {
      throw new TagExpressionError(
        `Cannot parse tag expression: "*" cannot be combined with other tags at position ${allPosition}`,
        allPosition,
      );
    }
    return MATCH_ALL;
  }
  return Object.freeze({ all: false, tags: Object.freeze(tags) });
}

/**
 * Tells whether a message with the given tag is selected by an expression.
 * A message without a tag is selected only by `*`.
 *
 * @param expr A parsed tag expression.
 * @param tag The message tag, if it has one.
 * @returns `true` if the message is selected.
 *
 * @example
 * ```ts
 * import { matchesTag, parseTagExpression } from "./tag_expression.ts";
 * const expr = parseTagExpression("Ops || Orchestration");
 * matchesTag(expr, "Ops"); // true
 * matchesTag(expr, "Billing"); // false
 * matchesTag(expr, undefined); // false
 * ```
 */
export function matchesTag(expr: TagExpression, tag: string | undefined): boolean {
  if (expr.all) return true;
  return tag !== undefined && expr.tags.includes(tag);
}
