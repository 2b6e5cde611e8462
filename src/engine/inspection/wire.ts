/**
 * The Stately inspector's wire format, as `@statelyai/inspect@0.7.2` writes
 * it: the three message types it forwards (`@xstate.actor`, `@xstate.event`,
 * `@xstate.snapshot`), their fields, and its JSON (object keys sorted,
 * `toJSON()` honoured, undefined fields dropped, nesting cut at depth 10, a
 * machine's functions written `{ type: name }` in its definition). Built here
 * without loading the library, so that the broker pays nothing for it at
 * start-up; tests/http/inspection_test.ts compares the result with the
 * library's own output.
 *
 * @module
 */
import type { AnyStateMachine } from "xstate";

/** The `@statelyai/inspect` version whose format this is (every message says it). */
export const INSPECT_VERSION = "0.7.2";

/** The library's serialisation depth limit. */
const DEPTH_LIMIT = 10;

/** What every inspection message carries. */
interface MessageBase {
  /** The library version the format follows. */
  readonly _version: string;
  /** When it happened: epoch milliseconds as a decimal string (`Date.now().toString()`). */
  readonly createdAt: string;
  readonly id: null;
  /** The session of the actor system's root (each of our machines is its own root). */
  readonly rootId: string;
  /** The actor the message is about. */
  readonly sessionId: string;
}

/** An actor registration: its machine's definition and its snapshot. */
export interface ActorMessage extends MessageBase {
  readonly type: "@xstate.actor";
  readonly name: string;
  /** The machine's config as JSON text (functions as `{ type: name }`). */
  readonly definition: string;
  readonly snapshot: unknown;
}

/** An event sent to the actor. */
export interface EventMessage extends MessageBase {
  readonly type: "@xstate.event";
  readonly event: unknown;
}

/** The actor's snapshot after an event. */
export interface SnapshotMessage extends MessageBase {
  readonly type: "@xstate.snapshot";
  readonly event: unknown;
  readonly snapshot: unknown;
}

/** One message of the inspector's stream. */
export type InspectionMessage = ActorMessage | EventMessage | SnapshotMessage;

/** How {@linkcode toInspectionJson} treats functions. */
interface PlainOptions {
  /** Write a function as `{ type: fn.name }` (the library's replacer for definitions). */
  readonly functionsAsType: boolean;
}

function plain(value: unknown, stack: object[], options: PlainOptions): unknown {
  if (typeof value === "object" && value !== null && "toJSON" in value) {
    const toJSON = (value as { toJSON: unknown }).toJSON;
    if (typeof toJSON === "function") value = toJSON.call(value);
  }
  if (typeof value === "function") {
    if (!options.functionsAsType) return undefined;
    value = { type: value.name };
  }
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : null;
    case "bigint":
      return String(value);
    case "object":
      break;
    default:
      return undefined; // undefined, symbol
  }
  if (value === null) return null;
  if (stack.includes(value)) return "[Circular]";
  if (Array.isArray(value)) {
    if (value.length === 0) return [];
    if (stack.length >= DEPTH_LIMIT) return "[Array]";
    stack.push(value);
    const out = value.map((item) => plain(item, stack, options) ?? null);
    stack.pop();
    return out;
  }
  const keys = Object.keys(value).sort();
  if (keys.length === 0) return {};
  if (stack.length >= DEPTH_LIMIT) return "[Object]";
  stack.push(value);
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const item = plain((value as Record<string, unknown>)[key], stack, options);
    if (item !== undefined) out[key] = item;
  }
  stack.pop();
  return out;
}

/**
 * `value` as the library's JSON would have it, as plain data with its keys
 * in sorted order: `JSON.stringify` of the result is the library's text.
 *
 * @example
 * ```ts
 * import { toInspectionJson } from "./wire.ts";
 * toInspectionJson({ b: 1, a: undefined, c: { toJSON: () => "C" } }); // { b: 1, c: "C" }
 * ```
 */
export function toInspectionJson(
  value: unknown,
  options: PlainOptions = { functionsAsType: false },
): unknown {
  return plain(value, [], options);
}

const definitions = new WeakMap<AnyStateMachine, string>();

/**
 * A machine's definition as the inspector receives it: its config as sorted
 * JSON text, functions written `{ type: name }`. Not `machine.toJSON()`.
 *
 * @example
 * ```ts
 * import { definitionOf } from "./wire.ts";
 * import { deliveryMachine } from "../../../machines/delivery.ts";
 * JSON.parse(definitionOf(deliveryMachine)).initial; // "pending"
 * ```
 */
export function definitionOf(machine: AnyStateMachine): string {
  let text = definitions.get(machine);
  if (text === undefined) {
    text = JSON.stringify(toInspectionJson(machine.config, { functionsAsType: true }));
    definitions.set(machine, text);
  }
  return text;
}
