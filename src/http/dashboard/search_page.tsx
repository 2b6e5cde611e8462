/**
 * The answer to a search that was not an id: the messages carrying the key,
 * in every topic, newest first; or a page saying nothing matched.
 *
 * @module
 */
import type { MessageView } from "../../engine/history/messages.ts";
import { clockTime } from "./format.ts";
import { Layout, MessageLink, StateBadge, TopicTag } from "./layout.tsx";

/**
 * The search results page.
 *
 * @example
 * ```tsx
 * import { SearchPage } from "./search_page.tsx";
 * const html = String(<SearchPage query="order-1" messages={[]} />);
 * ```
 */
export function SearchPage(
  { query, messages }: { query: string; messages: readonly MessageView[] },
) {
  return (
    <Layout title={`Search ${query} · Escrow`} query={query}>
      <section class="panel">
        <h2>
          Search <span class="mono">{query}</span>
        </h2>
        <div class="body">
          {messages.length
            ? (
              <table>
                <thead>
                  <tr>
                    <th>Message</th>
                    <th>Topic</th>
                    <th>Stored</th>
                    <th>Transaction</th>
                    <th>Deliveries</th>
                  </tr>
                </thead>
                <tbody>
                  {messages.map((m) => (
                    <tr data-message={m.messageId}>
                      <td>
                        <MessageLink messageId={m.messageId} />
                      </td>
                      <td>
                        <TopicTag topic={m.topic} tag={m.tag} />
                      </td>
                      <td>{clockTime(m.storedAt)}</td>
                      <td>{m.transaction ? <StateBadge state={m.transaction.state} /> : "–"}</td>
                      <td>
                        {m.deliveries.map((d) => (
                          <span class="pair">
                            {d.group} <StateBadge state={d.state} />
                          </span>
                        ))}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
            : (
              <p class="empty">
                Nothing matches{" "}
                <span class="mono">{query}</span>: it is not a message id, not a transaction id, and
                no published message of any topic carries it as a key (a half message is found by
                its ids until it is committed).
              </p>
            )}
        </div>
      </section>
    </Layout>
  );
}
