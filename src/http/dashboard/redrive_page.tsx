// deno-lint-ignore-file jsx-key -- rendered once on the server: keys would only end up as attributes
/**
 * The confirmation asked before a redrive: which messages of which group
 * will be delivered again, and a second submit that says yes.
 *
 * @module
 */
import { Layout } from "./layout.tsx";

/** What a redrive form asked for. */
export interface RedriveRequest {
  readonly group: string;
  /** The messages, or undefined for every dead letter of the group. */
  readonly messageIds?: readonly string[];
}

/**
 * The confirmation page.
 *
 * @example
 * ```tsx
 * import { RedriveConfirmPage } from "./redrive_page.tsx";
 * const html = String(<RedriveConfirmPage request={{ group: "ops" }} deadCount={3} />);
 * ```
 */
export function RedriveConfirmPage(
  { request, deadCount }: { request: RedriveRequest; deadCount: number },
) {
  const ids = request.messageIds;
  return (
    <Layout title="Confirm redrive · Escrow">
      <section class="panel confirm">
        <h2>Redrive dead letters of group {request.group}?</h2>
        <div class="body">
          {ids
            ? (
              <>
                <p>
                  {ids.length === 1 ? "This message" : `These ${ids.length} messages`}{" "}
                  will be delivered again from attempt 1:
                </p>
                <ul class="mono">{ids.map((id) => <li>{id}</li>)}</ul>
              </>
            )
            : (
              <p>
                Every dead letter of group <b>{request.group}</b> ({deadCount}{" "}
                now) will be delivered again from attempt 1.
              </p>
            )}
          <form method="post" action="/dashboard/redrive" class="actions">
            <input type="hidden" name="group" value={request.group} />
            {ids
              ? ids.map((id) => <input type="hidden" name="messageId" value={id} />)
              : <input type="hidden" name="scope" value="all" />}
            {ids ? <input type="hidden" name="scope" value="selected" /> : null}
            <input type="hidden" name="confirm" value="yes" />
            <button type="submit" class="primary" id="confirm-redrive">Yes, redrive</button>
            <a class="button" href="/#dead-letters">Cancel</a>
          </form>
        </div>
      </section>
    </Layout>
  );
}
