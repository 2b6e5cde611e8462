/**
 * Scenario 1, Accompaniment: one topic of investment-service events, tagged
 * `Ops`, `CS` or `Orchestration`, consumed by five subsystems that each
 * subscribe to what concerns them.
 *
 * @module
 */
import { Consumer, type EscrowClient, type ReceivedMessage } from "../client/mod.ts";
import { type Narrator, until } from "./harness.ts";

/** The subsystems and what they subscribe to. */
export const SUBSYSTEMS = {
  operations: "Ops",
  "customer-service": "CS",
  orchestration: "Orchestration",
  compliance: "Ops || Orchestration",
  "data-centre": "*",
} as const;

const EVENTS = [
  { phase: "pre-investment", tag: "CS", what: "welcome call booked" },
  { phase: "pre-investment", tag: "Ops", what: "risk questionnaire reviewed" },
  { phase: "pre-investment", tag: "Orchestration", what: "portfolio plan generated" },
  { phase: "during investment", tag: "Ops", what: "subscription settled" },
  { phase: "during investment", tag: "Orchestration", what: "rebalance scheduled" },
  { phase: "during investment", tag: "CS", what: "market-drop reassurance sent" },
  { phase: "during investment", tag: "Ops", what: "dividend reinvested" },
  { phase: "post-investment", tag: "Orchestration", what: "redemption workflow started" },
  { phase: "post-investment", tag: "CS", what: "quarterly review scheduled" },
  { phase: "post-investment", tag: "Ops", what: "fee reconciliation closed" },
] as const;

/**
 * Runs the scenario against a broker: creates the topic and groups, publishes
 * the events, consumes them with the SDK and checks each subsystem got
 * exactly its messages, once.
 *
 * @example
 * ```ts
 * import { runAccompaniment } from "./accompaniment.ts";
 * import { Narrator, startDemoBroker } from "./harness.ts";
 * await using broker = await startDemoBroker();
 * await runAccompaniment(broker.client, new Narrator());
 * ```
 */
export async function runAccompaniment(client: EscrowClient, narrator: Narrator): Promise<void> {
  narrator.section("Scenario 1: Accompaniment (tag routing to five subsystems)");
  await client.createTopic("Accompaniment");
  for (const [group, tags] of Object.entries(SUBSYSTEMS)) {
    await client.putGroup(group, { subscriptions: [{ topic: "Accompaniment", tags }] });
    narrator.step(`${group} subscribes to "${tags}"`);
  }
  const expected = new Map<string, Set<string>>(
    Object.keys(SUBSYSTEMS).map((group) => [group, new Set()]),
  );
  for (const [i, event] of EVENTS.entries()) {
    const { messageId } = await client.publish("Accompaniment", {
      tag: event.tag,
      keys: [`customer-${100 + (i % 3)}`],
      properties: { phase: event.phase },
      body: { customerId: `customer-${100 + (i % 3)}`, ...event },
    });
    for (const [group, tags] of Object.entries(SUBSYSTEMS)) {
      if (tags === "*" || tags.split("||").map((t) => t.trim()).includes(event.tag)) {
        expected.get(group)!.add(messageId);
      }
    }
  }
  narrator.step(`published ${EVENTS.length} events for pre-, during- and post-investment services`);

  const received = new Map<string, string[]>();
  const audits: string[] = [];
  const consumers = Object.keys(SUBSYSTEMS).map((group) => {
    received.set(group, []);
    return new Consumer(client, group, (message: ReceivedMessage) => {
      received.get(group)!.push(message.messageId);
      if (group === "compliance") {
        const body = message.body as { customerId?: string };
        if (!body.customerId) throw new Error("audit failed: no customer id");
        audits.push(`${message.tag}:${body.customerId}`);
      }
    }, { waitSeconds: 1 });
  });
  consumers.forEach((consumer) => consumer.start());
  await until(
    () => [...expected].every(([group, ids]) => received.get(group)!.length >= ids.size),
    10_000,
  );
  await Promise.all(consumers.map((consumer) => consumer.stop()));

  for (const [group, ids] of expected) {
    const got = received.get(group)!;
    const exact = got.length === ids.size && new Set(got).size === got.length &&
      got.every((id) => ids.has(id));
    narrator.check(exact, `${group} got exactly its ${ids.size} messages, once each`);
  }
  narrator.check(
    audits.length === expected.get("compliance")!.size,
    `compliance audited ${audits.length} Ops and Orchestration events`,
  );
  for (const group of Object.keys(SUBSYSTEMS)) {
    const stats = await client.getGroup(group);
    narrator.check(
      stats.backlog === 0 && stats.inFlight === 0 && stats.acked === expected.get(group)!.size,
      `${group}: backlog 0, in flight 0, acked ${stats.acked}`,
    );
  }
}
