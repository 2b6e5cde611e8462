/**
 * The page shell every dashboard page shares: the broker's own stylesheet
 * and script (nothing from another host), a header with the search box and
 * links to the other tools the broker serves.
 *
 * @module
 */
import { raw } from "hono/html";
import type { Child } from "hono/jsx";
import { ASSET_PATHS } from "./assets.ts";

/** Props of {@linkcode Layout}. */
export interface LayoutProps {
  readonly title: string;
  /** Prefilled search text. @default {""} */
  readonly query?: string;
  /** Opens the live stream of the overview. @default {false} */
  readonly live?: boolean;
  readonly children?: Child;
}

/**
 * A whole dashboard page.
 *
 * @example
 * ```tsx
 * import { Layout } from "./layout.tsx";
 * const html = String(<Layout title="Escrow">Hello</Layout>);
 * ```
 */
export function Layout({ title, query, live, children }: LayoutProps) {
  return (
    <>
      {raw("<!DOCTYPE html>")}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>{title}</title>
          <link rel="icon" href={ASSET_PATHS.icon} type="image/svg+xml" />
          <link rel="stylesheet" href={ASSET_PATHS.css} />
          <script src={ASSET_PATHS.js} defer></script>
        </head>
        <body data-live={live ? "overview" : undefined}>
          <header class="top">
            <a class="brand" href="/">
              <img src={ASSET_PATHS.icon} alt="" width="22" height="22" />Escrow
            </a>
            <form class="search" action="/search" method="get" role="search">
              <input
                type="search"
                name="q"
                value={query ?? ""}
                placeholder="Message id, transaction id or key"
                aria-label="Search by message id, transaction id or key"
                maxlength={200}
              />
              <button type="submit">Search</button>
            </form>
            <nav>
              <a href="/inspect">Inspector</a>
              <a href="/docs">API docs</a>
              <a href="/metrics">Metrics</a>
            </nav>
            {live ? <span id="live" class="live" title="Live updates">connecting…</span> : null}
          </header>
          <main>{children}</main>
        </body>
      </html>
    </>
  );
}

/**
 * A state name in its color.
 *
 * @example
 * ```tsx
 * import { StateBadge } from "./layout.tsx";
 * const html = String(<StateBadge state="acked" />);
 * ```
 */
export function StateBadge({ state }: { state: string }) {
  return <span class={`badge s-${state}`}>{state}</span>;
}

/**
 * A link to a message's page, showing `label` (the message id by default).
 *
 * @example
 * ```tsx
 * import { MessageLink } from "./layout.tsx";
 * const html = String(<MessageLink messageId="01J…" />);
 * ```
 */
export function MessageLink({ messageId, label }: { messageId: string; label?: string }) {
  return (
    <a class="mono" href={`/messages/${encodeURIComponent(messageId)}`}>
      {label ?? messageId}
    </a>
  );
}

/**
 * A topic with its tag, the tag muted.
 *
 * @example
 * ```tsx
 * import { TopicTag } from "./layout.tsx";
 * const html = String(<TopicTag topic="Trade" tag="FundPurchase" />);
 * ```
 */
export function TopicTag({ topic, tag }: { topic: string; tag?: string | undefined }) {
  return <>{topic}{tag ? <span class="muted">{` · ${tag}`}</span> : null}</>;
}
