/**
 * A short page that says why there is nothing to show: not found, a bad
 * request, or a token needed.
 *
 * @module
 */
import type { Child } from "hono/jsx";
import { Layout } from "./layout.tsx";

/**
 * A page with a heading and a few words.
 *
 * @example
 * ```tsx
 * import { NoticePage } from "./notice_page.tsx";
 * const html = String(<NoticePage title="Not found">No message m1.</NoticePage>);
 * ```
 */
export function NoticePage(
  { title, query, children }: { title: string; query?: string; children?: Child },
) {
  return (
    <Layout title={`${title} · Escrow`} query={query ?? ""}>
      <section class="panel notice-page">
        <h2>{title}</h2>
        <div class="body">{children}</div>
        <p>
          <a href="/">Back to the overview</a>
        </p>
      </section>
    </Layout>
  );
}
