/**
 * The overview's live sections. Each renders from an {@linkcode Overview}
 * alone, so the first page and every update over SSE are the same markup.
 *
 * @module
 */
import type { AlertStatus } from "./alert_status.ts";
import type { Overview } from "./overview.ts";
import { clockTime, count, duration, rate } from "./format.ts";
import { MessageLink, StateBadge, TopicTag } from "./layout.tsx";

/** Ids of the live sections, also the names of their SSE events. */
export const SECTIONS = ["summary", "topics", "groups", "transactions", "dead-letters"] as const;

/** One of {@linkcode SECTIONS}. */
export type SectionName = typeof SECTIONS[number];

/**
 * The inner markup of one live section.
 *
 * @example
 * ```ts
 * import { renderSection } from "./overview_sections.tsx";
 * declare const overview: import("./overview.ts").Overview;
 * const html = renderSection("topics", overview);
 * ```
 */
export function renderSection(name: SectionName, overview: Overview): string {
  switch (name) {
    case "summary":
      return String(<Summary overview={overview} />);
    case "topics":
      return String(<Topics overview={overview} />);
    case "groups":
      return String(<Groups overview={overview} />);
    case "transactions":
      return String(<Transactions overview={overview} />);
    case "dead-letters":
      return String(<DeadLetters overview={overview} />);
    default: {
      const never: never = name;
      throw new TypeError(`Cannot render section: unknown ${never}`);
    }
  }
}

function Summary({ overview }: { overview: Overview }) {
  const published = overview.topics.reduce((n, t) => n + t.counts.published, 0);
  const rates = overview.topics.map((t) => t.rate).filter((r) => r !== undefined);
  const total = rates.length ? rates.reduce((a, b) => a + b, 0) : undefined;
  const open = overview.open.reduce((n, o) => n + o.transactions.length, 0);
  const more = overview.open.some((o) => o.more);
  const dead = overview.groups.reduce((n, g) => n + g.stats.deadLettered, 0);
  const backlog = overview.groups.reduce((n, g) => n + g.stats.backlog, 0);
  return (
    <>
      <div class="tile">
        <b data-count="published">{count(published)}</b>
        <span>published · {rate(total)}</span>
      </div>
      <div class="tile">
        <b data-count="backlog">{count(backlog)}</b>
        <span>waiting in groups</span>
      </div>
      <div class="tile">
        <b data-count="open">{count(open)}{more ? "+" : ""}</b>
        <span>open transactions</span>
      </div>
      <div class={dead ? "tile alert" : "tile"}>
        <b data-count="dead">{count(dead)}</b>
        <span>dead letters</span>
      </div>
      <p class="stamp">as of {clockTime(overview.at)} UTC</p>
    </>
  );
}

function Topics({ overview }: { overview: Overview }) {
  if (!overview.topics.length) {
    return (
      <p class="empty">
        No topics yet. Create one with <code>PUT /v1/topics/NAME</code>.
      </p>
    );
  }
  return (
    <table>
      <thead>
        <tr>
          <th>Topic</th>
          <th class="num">Rate</th>
          <th class="num">Published</th>
          <th class="num">Prepared</th>
          <th class="num">Committed</th>
          <th class="num">Rolled back</th>
        </tr>
      </thead>
      <tbody>
        {overview.topics.map((t) => (
          <tr data-topic={t.name}>
            <td>{t.name}</td>
            <td class="num" data-field="rate">{rate(t.rate)}</td>
            <td class="num" data-field="published">{count(t.counts.published)}</td>
            <td class="num">{count(t.counts.prepared)}</td>
            <td class="num">{count(t.counts.committed)}</td>
            <td class="num">{count(t.counts.rolledBack)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Groups({ overview }: { overview: Overview }) {
  if (!overview.groups.length) {
    return (
      <p class="empty">
        No consumer groups yet. Create one with <code>PUT /v1/groups/NAME</code>.
      </p>
    );
  }
  return (
    <table>
      <thead>
        <tr>
          <th>Group</th>
          <th>Topics</th>
          <th class="num">Backlog</th>
          <th class="num">In flight</th>
          <th class="num">Retrying</th>
          <th class="num">Dead</th>
          <th class="num">Acked</th>
          <th class="num" title="How long the oldest message the group has not taken has waited">
            Lag
          </th>
        </tr>
      </thead>
      <tbody>
        {overview.groups.map((g) => (
          <tr data-group={g.name}>
            <td class="name">
              {g.name} <span class="muted">{g.mode}</span>
            </td>
            <td class="muted">{g.topics.join(", ")}</td>
            <td class="num" data-field="backlog">{count(g.stats.backlog)}</td>
            <td class="num" data-field="inFlight">{count(g.stats.inFlight)}</td>
            <td class={g.stats.retrying ? "num warn" : "num"} data-field="retrying">
              {count(g.stats.retrying)}
            </td>
            <td class={g.stats.deadLettered ? "num bad" : "num"} data-field="deadLettered">
              {count(g.stats.deadLettered)}
            </td>
            <td class="num" data-field="acked">{count(g.stats.acked)}</td>
            <td class="num" data-field="lag">{g.lagMs ? duration(g.lagMs) : "–"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Transactions({ overview }: { overview: Overview }) {
  const listed = overview.open.flatMap((o) => o.transactions);
  return (
    <>
      <ul class="states">
        {overview.open.map((o) => (
          <li data-state={o.state}>
            <StateBadge state={o.state} />
            <b>{count(o.transactions.length)}{o.more ? "+" : ""}</b>
          </li>
        ))}
        <li data-state="committed">
          <StateBadge state="committed" />
          <b>{count(overview.committed)}</b>
        </li>
        <li data-state="rolledBack">
          <StateBadge state="rolledBack" />
          <b>{count(overview.rolledBack)}</b>
        </li>
      </ul>
      {listed.length
        ? (
          <table>
            <thead>
              <tr>
                <th>Transaction</th>
                <th>State</th>
                <th>Topic</th>
                <th>Producer group</th>
                <th class="num">Checks</th>
                <th class="num">Age</th>
              </tr>
            </thead>
            <tbody>
              {listed.map((tx) => (
                <tr data-transaction={tx.transactionId}>
                  <td>
                    <MessageLink messageId={tx.messageId} label={tx.transactionId} />
                  </td>
                  <td>
                    <StateBadge state={tx.state} />
                  </td>
                  <td>
                    <TopicTag topic={tx.topic} tag={tx.tag} />
                  </td>
                  <td>{tx.producerGroup ?? <span class="muted">–</span>}</td>
                  <td class="num">{tx.checks}</td>
                  <td class="num">{duration(overview.at - tx.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )
        : <p class="empty">No open transactions: every prepared message has been decided.</p>}
    </>
  );
}

function AlertCell({ status }: { status: AlertStatus | undefined }) {
  switch (status?.state) {
    case "sent":
      return <span class="badge s-acked" title={`HTTP ${status.status}`}>sent</span>;
    case "failed":
      return (
        <span class="badge s-retrying" title={`call ${status.attempt}: ${status.error}`}>
          retrying
        </span>
      );
    default:
      return <span class="badge s-pending">pending</span>;
  }
}

function DeadLetters({ overview }: { overview: Overview }) {
  if (!overview.deadLetters.length) {
    return <p class="empty">No dead letters. Messages that exhaust their retries land here.</p>;
  }
  return (
    <>
      {overview.deadLetters.map((list) => (
        <form class="dead" method="post" action="/dashboard/redrive" data-group={list.group}>
          <input type="hidden" name="group" value={list.group} />
          <h3>
            Group {list.group}{" "}
            <span class="muted">
              {count(list.messages.length)}
              {list.more ? "+" : ""} dead
            </span>
          </h3>
          <table>
            <thead>
              <tr>
                <th class="pick">
                  <input type="checkbox" data-pick-all aria-label="Select all" />
                </th>
                <th>Message</th>
                <th>Topic</th>
                <th class="num">Attempts</th>
                <th>Last error</th>
                <th class="num">Dead for</th>
                {list.alerts ? <th>Alert</th> : null}
                <th></th>
              </tr>
            </thead>
            <tbody>
              {list.messages.map((m) => (
                <tr data-message={m.messageId}>
                  <td class="pick">
                    <input
                      type="checkbox"
                      name="messageId"
                      value={m.messageId}
                      aria-label={`Select ${m.messageId}`}
                    />
                  </td>
                  <td>
                    <MessageLink messageId={m.messageId} />
                  </td>
                  <td>
                    <TopicTag topic={m.topic} tag={m.tag} />
                  </td>
                  <td class="num">{m.attempts}</td>
                  <td class="error" title={m.lastError}>{m.lastError}</td>
                  <td class="num">{duration(overview.at - m.deadLetteredAt)}</td>
                  {list.alerts
                    ? (
                      <td data-field="alert">
                        <AlertCell status={list.alerts[m.messageId]} />
                      </td>
                    )
                    : null}
                  <td>
                    <button type="submit" name="only" value={m.messageId} class="small">
                      Redrive
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <div class="actions">
            <button type="submit" name="scope" value="selected">Redrive selected</button>
            <button type="submit" name="scope" value="all">
              Redrive all of {list.group}
            </button>
          </div>
        </form>
      ))}
    </>
  );
}
