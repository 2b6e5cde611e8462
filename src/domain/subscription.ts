/**
 * A consumer group's subscription to one topic: a tag expression (`*`,
 * `Ops || Orchestration`) or an SQL92 filter on properties and `TAGS`.
 * Compiled once when the group is saved; matching runs per message.
 *
 * @module
 */
import { ValidationError } from "./errors.ts";
import { parseSqlFilter, type SqlFilter, SqlFilterError } from "./sql_filter.ts";
import {
  matchesTag,
  parseTagExpression,
  type TagExpression,
  TagExpressionError,
} from "./tag_expression.ts";

/** A subscription as configured. */
export interface SubscriptionSpec {
  readonly topic: string;
  readonly tags?: string;
  readonly sql?: string;
}

/** A compiled subscription. */
export interface Subscription {
  readonly topic: string;
  /** Whether a message with this tag and these properties is for the group. */
  matches(tag: string | undefined, properties: Readonly<Record<string, string>>): boolean;
  /**
   * Whether `matches` looks at the tag alone (a tag expression, not an SQL92
   * filter), so a backlog can be counted from per-tag counts.
   */
  readonly byTag: boolean;
  /**
   * The tags its matches all carry, when it names a few
   * ({@linkcode MAX_WAKE_TAGS} at most) by a tag expression: only new
   * entries with one of them can be for the group, so only they need wake
   * its long polls. Undefined for `*`, longer lists and SQL92 filters.
   */
  readonly wakeTags?: readonly string[];
}

/**
 * Most tags a subscription's long polls watch one by one (see
 * {@linkcode Subscription.wakeTags}); past this they watch the topic's head.
 */
export const MAX_WAKE_TAGS = 4;

/**
 * Compiles a subscription, or throws a {@linkcode ValidationError} naming the
 * problem (with the position of an SQL syntax error).
 *
 * @example
 * ```ts
 * import { compileSubscription } from "./subscription.ts";
 * const s = compileSubscription({ topic: "Accompaniment", tags: "Ops || Orchestration" });
 * s.matches("Ops", {}); // true
 * s.matches("CS", {}); // false
 * s.wakeTags; // ["Ops", "Orchestration"]
 * ```
 */
export function compileSubscription(spec: SubscriptionSpec): Subscription {
  if (spec.tags !== undefined && spec.sql !== undefined) {
    throw new ValidationError(
      `Cannot subscribe to ${spec.topic}: give either tags or sql, not both`,
    );
  }
  if (spec.sql !== undefined) {
    let filter: SqlFilter;
    try {
      filter = parseSqlFilter(spec.sql);
    } catch (error) {
      if (error instanceof SqlFilterError) {
        throw new ValidationError(error.message, { topic: spec.topic, position: error.position });
      }
      throw error;
    }
    return {
      topic: spec.topic,
      matches: (tag, properties) => filter.evaluate(properties, tag),
      byTag: false,
    };
  }
  let expression: TagExpression;
  try {
    expression = parseTagExpression(spec.tags ?? "*");
  } catch (error) {
    if (error instanceof TagExpressionError) {
      throw new ValidationError(error.message, { topic: spec.topic, position: error.position });
    }
    throw error;
  }
  const named = expression.all ? undefined : [...new Set(expression.tags)];
  return {
    topic: spec.topic,
    matches: (tag) => matchesTag(expression, tag),
    byTag: true,
    ...(named && named.length <= MAX_WAKE_TAGS ? { wakeTags: named } : {}),
  };
}
