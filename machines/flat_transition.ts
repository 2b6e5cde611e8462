/**
 * XState's `transition()` for a flat machine, read once from the machine's
 * own definition: its states, their `on` transitions in order, each
 * transition's guard (called with `{ context, event }`, as XState calls it),
 * its target and `reenter`, and the exit, transition and entry actions, of
 * which `assign` actions update the context in order and the others are
 * returned for the engine to carry out. Nothing is memoised: every call
 * evaluates the machine's guards and assigns on the context it is given.
 *
 * Why: XState's `transition()` builds snapshots, sets of state nodes and
 * exit/entry sets for every event, about 5 µs and 10 KB of garbage each; a
 * delivery takes two (attempted, acked), and at the benchmark's fan-out that
 * was a fifth of the broker's CPU and most of its extra GC and latency. The
 * delivery machine is a flat machine (five atomic states, guarded
 * transitions, entry and exit actions), for which XState's algorithm
 * reduces to the steps above. {@linkcode flatTransition} refuses, when it is
 * built, any machine with more than that (nested or parallel states,
 * eventless or delayed transitions, invoked actors, wildcard events, inline
 * or higher-order guards, built-in actions other than `assign`), so it is
 * never used where XState would do something else; and a test compares it
 * with XState's own `transition()` on every state and event with random
 * contexts (tests/machines/flat_transition_test.ts).
 *
 * @module
 */
import type { AnyStateMachine, ContextFrom, EventFromLogic, SnapshotFrom } from "xstate";

/** What a transition made of a state and an event. */
export interface FlatStep<S extends string, C> {
  /** The state after it (the same state for a targetless transition). */
  readonly value: S;
  /** The context after its `assign` actions. */
  readonly context: C;
  /** Its other actions, in XState's order: exit, transition, entry. */
  readonly actions: readonly string[];
}

/** A guard or an action as XState's definition holds it. */
type Ref =
  | string
  | { readonly type: string; readonly params?: unknown }
  | ((...args: never[]) => unknown);

/** An `assign` action's implementation: what XState's `assign()` returns. */
interface AssignAction {
  readonly type: "xstate.assign";
  readonly assignment:
    | ((args: { context: unknown; event: unknown }, params: unknown) => object)
    | Record<string, unknown>;
}

/** One step of a compiled transition. */
type Effect =
  | { readonly kind: "assign"; readonly action: AssignAction; readonly params: unknown }
  | { readonly kind: "action"; readonly type: string };

interface Compiled {
  readonly guard?: (args: { context: unknown; event: unknown }, params: unknown) => boolean;
  readonly guardParams: unknown;
  readonly target: string | undefined;
  readonly effects: readonly Effect[];
}

/** The state nodes XState exposes, as far as this reads them. */
interface Node {
  readonly key: string;
  readonly type: string;
  readonly entry: readonly Ref[];
  readonly exit: readonly Ref[];
  readonly on: Record<string, readonly Transition[]>;
  readonly always?: readonly unknown[];
  readonly after: readonly unknown[];
  readonly invoke: readonly unknown[];
  readonly states: Record<string, Node>;
}

interface Transition {
  readonly guard?: Ref;
  readonly target?: readonly Node[];
  readonly actions: readonly Ref[];
  readonly reenter: boolean;
}

function refuse(machine: AnyStateMachine, why: string): never {
  throw new TypeError(`Cannot compile machine ${machine.id} as a flat machine: ${why}`);
}

function nameOf(
  ref: Ref,
  machine: AnyStateMachine,
  what: string,
): { type: string; params: unknown } {
  if (typeof ref === "string") return { type: ref, params: undefined };
  if (typeof ref === "function") return refuse(machine, `an inline ${what}`);
  if (typeof ref.params === "function") return refuse(machine, `a ${what} with dynamic params`);
  return { type: ref.type, params: ref.params };
}

function effectsOf(machine: AnyStateMachine, refs: readonly Ref[]): Effect[] {
  const actions = machine.implementations.actions as Record<string, unknown>;
  return refs.map((ref): Effect => {
    const { type, params } = nameOf(ref, machine, "action");
    const implementation = actions[type] as
      | Partial<AssignAction> & { resolve?: unknown }
      | undefined;
    if (implementation === undefined) return refuse(machine, `action ${type} is not implemented`);
    if (implementation.type === "xstate.assign" && implementation.assignment !== undefined) {
      return { kind: "assign", action: implementation as AssignAction, params };
    }
    if ("resolve" in implementation) return refuse(machine, `action ${type} is a built-in action`);
    return { kind: "action", type };
  });
}

/**
 * Compiles `machine` (see the module doc) into a function from a state, its
 * context and an event to the step XState's `transition()` would take, or
 * undefined where XState takes none (no transition for the event, or every
 * guard false).
 *
 * @throws {TypeError} when the machine is not flat as described.
 *
 * @example
 * ```ts
 * import { flatTransition } from "./flat_transition.ts";
 * import { deliveryMachine } from "./delivery.ts";
 * const decide = flatTransition(deliveryMachine);
 * const step = decide("inFlight", { attempt: 1, visibleUntil: 30_000 },
 *   { type: "DeliveryAcked", data: { attempt: 1 }, at: 0 });
 * console.log(step?.value, step?.actions); // "acked" ["forgetVisibility", "releaseOrder"]
 * ```
 */
export function flatTransition<M extends AnyStateMachine>(
  machine: M,
): (
  value: Extract<SnapshotFrom<M>["value"], string>,
  context: ContextFrom<M>,
  event: EventFromLogic<M>,
) => FlatStep<Extract<SnapshotFrom<M>["value"], string>, ContextFrom<M>> | undefined {
  type S = Extract<SnapshotFrom<M>["value"], string>;
  type C = ContextFrom<M>;
  const root = machine.root as unknown as Node;
  if (Object.keys(root.on).length > 0) refuse(machine, "the root has transitions");
  if (root.entry.length + root.exit.length > 0) refuse(machine, "the root has actions");
  const guards = machine.implementations.guards as Record<string, unknown>;
  const table = new Map<string, Map<string, Compiled[]>>();
  for (const node of Object.values(root.states)) {
    if (node.type !== "atomic" && node.type !== "final") {
      refuse(machine, `state ${node.key} is ${node.type}`);
    }
    if ((node.always?.length ?? 0) > 0) {
      refuse(machine, `state ${node.key} has eventless transitions`);
    }
    if (node.after.length > 0) refuse(machine, `state ${node.key} has delayed transitions`);
    if (node.invoke.length > 0) refuse(machine, `state ${node.key} invokes actors`);
    const byEvent = new Map<string, Compiled[]>();
    for (const [eventType, transitions] of Object.entries(node.on)) {
      if (eventType.includes("*")) refuse(machine, `state ${node.key} has a wildcard event`);
      byEvent.set(
        eventType,
        transitions.map((transition): Compiled => {
          const targets = transition.target ?? [];
          if (targets.length > 1) {
            refuse(machine, `a transition of ${node.key} has several targets`);
          }
          const target = targets[0];
          let guard: Compiled["guard"];
          let guardParams: unknown;
          if (transition.guard !== undefined) {
            const { type, params } = nameOf(transition.guard, machine, "guard");
            const implementation = guards[type];
            if (typeof implementation !== "function" || "check" in implementation) {
              refuse(machine, `guard ${type} is not a plain guard function`);
            }
            guard = implementation as Compiled["guard"];
            guardParams = params;
          }
          // XState exits and re-enters the source only when it leaves it or is told to re-enter.
          const leaves = target !== undefined && (target !== node || transition.reenter);
          const refs = leaves
            ? [...node.exit, ...transition.actions, ...target.entry]
            : transition.actions;
          return { guard, guardParams, target: target?.key, effects: effectsOf(machine, refs) };
        }),
      );
    }
    table.set(node.key, byEvent);
  }
  return (value, context, event) => {
    const candidates = table.get(value)?.get(event.type);
    if (!candidates) return undefined;
    const chosen = candidates.find((t) =>
      t.guard === undefined || t.guard({ context, event }, t.guardParams)
    );
    if (!chosen) return undefined;
    let next: object = context as object;
    const actions: string[] = [];
    for (const effect of chosen.effects) {
      if (effect.kind === "action") {
        actions.push(effect.type);
        continue;
      }
      const { assignment } = effect.action;
      const args = { context: next, event };
      let update: object;
      if (typeof assignment === "function") {
        update = assignment(args, effect.params);
      } else {
        const partial: Record<string, unknown> = {};
        for (const key of Object.keys(assignment)) {
          const value = assignment[key];
          partial[key] = typeof value === "function" ? value(args, effect.params) : value;
        }
        update = partial;
      }
      next = Object.assign({}, next, update);
    }
    return { value: (chosen.target ?? value) as S, context: next as C, actions };
  };
}
