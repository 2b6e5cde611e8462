/**
 * XState's pure `transition()`, without building a throwaway actor per
 * call. `transition(machine, snapshot, event)` creates an inert actor (and
 * its system) every time it is called, which is most of its cost; for a
 * machine that spawns no children and has no delays, as ours, one inert
 * scope per machine serves every call: the result is the same next snapshot
 * and the same list of actions to execute, and nothing is executed.
 *
 * @module
 */
import { type AnyStateMachine, createActor, type EventFromLogic, type SnapshotFrom } from "xstate";

type Scope = Parameters<AnyStateMachine["transition"]>[2];

const scopes = new WeakMap<AnyStateMachine, { scope: Scope; actions: unknown[] }>();

function scopeOf(machine: AnyStateMachine): { scope: Scope; actions: unknown[] } {
  const known = scopes.get(machine);
  if (known) return known;
  const self = createActor(machine);
  const actions: unknown[] = [];
  const scope = {
    self,
    defer: () => {},
    id: "",
    logger: () => {},
    sessionId: "",
    stopChild: () => {},
    system: self.system,
    emit: () => {},
    actionExecutor: (action: unknown) => {
      actions.push(action);
    },
  } as unknown as Scope;
  const made = { scope, actions };
  scopes.set(machine, made);
  return made;
}

/**
 * The next snapshot and the actions to execute, as XState's `transition()`
 * returns them; the snapshot is the very same object when no transition is
 * enabled for the event.
 *
 * @example
 * ```ts
 * import { pureTransition } from "./pure_transition.ts";
 * import { deliveryMachine } from "./delivery.ts";
 * const snapshot = deliveryMachine.resolveState({ value: "inFlight", context: { attempt: 1 } });
 * const [next, actions] = pureTransition(deliveryMachine, snapshot,
 *   { type: "DeliveryAcked", data: { attempt: 1 }, at: 0 });
 * console.log(next.value, actions.map((a) => a.type)); // "acked" [...]
 * ```
 */
export function pureTransition<M extends AnyStateMachine>(
  machine: M,
  snapshot: SnapshotFrom<M>,
  event: EventFromLogic<M>,
): [SnapshotFrom<M>, { type: string; params?: unknown }[]] {
  const { scope, actions } = scopeOf(machine);
  actions.length = 0;
  const next = machine.transition(snapshot, event, scope) as SnapshotFrom<M>;
  return [next, actions.splice(0) as { type: string; params?: unknown }[]];
}
