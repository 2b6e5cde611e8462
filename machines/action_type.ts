// deno-lint-ignore-file no-explicit-any -- the type parameters other than the actions match anything
/**
 * Reading a machine's action names off its type, so that the engine's
 * switch over them is exhaustive: an action added to a machine and not
 * carried out by the engine does not compile.
 *
 * @module
 */
import type { StateMachine } from "xstate";

/**
 * The union of the `type`s of the actions a machine built with `setup()` declares.
 *
 * @example
 * ```ts
 * import type { ActionTypeOf } from "./action_type.ts";
 * import type { deliveryMachine } from "./delivery.ts";
 * const action: ActionTypeOf<typeof deliveryMachine> = "trackVisibility";
 * ```
 */
export type ActionTypeOf<M> = M extends StateMachine<
  any,
  any,
  any,
  any,
  infer A,
  any,
  any,
  any,
  any,
  any,
  any,
  any,
  any,
  any,
  any
> ? A extends { type: infer T extends string } ? T : never
  : never;
