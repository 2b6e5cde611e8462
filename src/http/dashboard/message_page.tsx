/**
 * One message's page: what it is, its timeline across its transaction and
 * every consumer group, each machine's diagram with its current state
 * highlighted, and links to replay each machine in the Stately inspector.
 *
 * @module
 */
import { deliveryMachine } from "../../../machines/delivery.ts";
import { transactionMachine } from "../../../machines/transaction.ts";
import type { MessageView } from "../../engine/history/messages.ts";
import { type AlertStatus, alertStatus } from "./alert_status.ts";
import { clockTime, duration } from "./format.ts";
import { Layout, StateBadge } from "./layout.tsx";
import { MachineDiagram } from "./machine_svg.tsx";
import { buildTimeline } from "./timeline.ts";
import { TimelineSvg } from "./timeline_svg.tsx";

/** Where the alert about a dead letter stands, in words. */
function AlertLine({ status }: { status: AlertStatus | undefined }) {
  switch (status?.state) {
    case undefined:
      return null;
    case "sent":
      return (
        <p class="muted" data-alert="sent">
          Dead-letter alert sent at {clockTime(status.at)} UTC (HTTP {status.status}).
        </p>
      );
    case "failed":
      return (
        <p class="error" data-alert="failed">
          Dead-letter alert call {status.attempt} failed: {status.error}; it is retried.
        </p>
      );
    case "pending":
      return null; // a group without an alertUrl never sends one
  }
}

/** How much of a body the page shows. */
export const BODY_PREVIEW_CHARS = 2_000;

/**
 * The message page as it is at `now`.
 *
 * @example
 * ```tsx
 * import { MessagePage } from "./message_page.tsx";
 * declare const view: import("../../engine/history/messages.ts").MessageView;
 * const html = String(<MessagePage view={view} now={Date.now()} />);
 * ```
 */
export function MessagePage({ view, now }: { view: MessageView; now: number }) {
  const timeline = buildTimeline(view, now);
  const body = view.bodyBase64 !== undefined
    ? `(binary, base64) ${view.bodyBase64}`
    : JSON.stringify(view.body, null, 2) ?? "(empty)";
  const tx = view.transaction;
  const id = encodeURIComponent(view.messageId);
  return (
    <Layout title={`Message ${view.messageId} · Escrow`} query={view.messageId}>
      <section class="panel">
        <h2>
          Message <span class="mono">{view.messageId}</span>
        </h2>
        <div class="body">
          <dl class="facts">
            <dt>Topic</dt>
            <dd>
              {view.topic}
              {view.tag ? <span class="muted">{` · tag ${view.tag}`}</span> : null}
            </dd>
            <dt>Keys</dt>
            <dd>
              {view.keys.length
                ? view.keys.map((key) => (
                  <a class="chip" href={`/search?q=${encodeURIComponent(key)}`}>{key}</a>
                ))
                : <span class="muted">none</span>}
            </dd>
            <dt>Stored</dt>
            <dd>{clockTime(view.storedAt)} UTC</dd>
            <dt>Published</dt>
            <dd>
              {view.publishedAt !== undefined
                ? `${clockTime(view.publishedAt)} UTC (+${
                  duration(view.publishedAt - view.storedAt)
                })`
                : <span class="muted">not visible to consumers</span>}
            </dd>
            {tx
              ? (
                <>
                  <dt>Transaction</dt>
                  <dd>
                    <span class="mono">{tx.transactionId}</span> <StateBadge state={tx.state} />
                    {" "}
                    <span class="muted">
                      {tx.checks} check{tx.checks === 1 ? "" : "s"}
                      {tx.reason ? ` · decided by ${tx.reason}` : ""}
                      {tx.producerGroup ? ` · producer group ${tx.producerGroup}` : ""}
                    </span>
                  </dd>
                </>
              )
              : null}
            {Object.keys(view.properties).length
              ? (
                <>
                  <dt>Properties</dt>
                  <dd class="mono">
                    {Object.entries(view.properties).map(([k, v]) => `${k}=${v}`).join("  ")}
                  </dd>
                </>
              )
              : null}
          </dl>
          <details>
            <summary>Body</summary>
            <pre>{body.length > BODY_PREVIEW_CHARS ? `${body.slice(0, BODY_PREVIEW_CHARS)}…` : body}</pre>
          </details>
        </div>
      </section>
      <section class="panel" id="timeline">
        <h2>
          Timeline <small>States over time, replayed from the stored histories.</small>
        </h2>
        <div class="body scroll">
          {timeline.rows.length
            ? <TimelineSvg timeline={timeline} />
            : <p class="empty">No machine has run for this message yet.</p>}
        </div>
      </section>
      <section class="panel" id="machines">
        <h2>
          Machines <small>Each machine's diagram; the filled state is where it is now.</small>
        </h2>
        <div class="body">
          {tx
            ? (
              <div class="machine-card">
                <h3>
                  Transaction <StateBadge state={tx.state} />
                  <a
                    class="inspect"
                    href={`/inspect?transaction=${encodeURIComponent(tx.transactionId)}`}
                  >
                    Open in the inspector
                  </a>
                </h3>
                <div class="scroll">
                  <MachineDiagram
                    machine={transactionMachine}
                    current={tx.state}
                    title={`Transaction ${tx.transactionId}: ${tx.state}`}
                  />
                </div>
              </div>
            )
            : null}
          {view.deliveries.map((delivery) => {
            const last = delivery.attempts.at(-1);
            return (
              <div class="machine-card" data-group={delivery.group}>
                <h3>
                  Group {delivery.group} <StateBadge state={delivery.state} />
                  <span class="muted">
                    {delivery.attempts.length} attempt{delivery.attempts.length === 1 ? "" : "s"}
                  </span>
                  <a
                    class="inspect"
                    href={`/inspect?message=${id}&group=${encodeURIComponent(delivery.group)}`}
                  >
                    Open in the inspector
                  </a>
                </h3>
                {last?.error ? <p class="error">Last error: {last.error}</p> : null}
                <AlertLine status={alertStatus(delivery.history)} />
                <div class="scroll">
                  <MachineDiagram
                    machine={deliveryMachine}
                    current={delivery.state}
                    title={`Delivery to ${delivery.group}: ${delivery.state}`}
                  />
                </div>
              </div>
            );
          })}
          {!tx && !view.deliveries.length
            ? <p class="empty">No transaction, and no group has received it yet.</p>
            : null}
        </div>
      </section>
    </Layout>
  );
}
