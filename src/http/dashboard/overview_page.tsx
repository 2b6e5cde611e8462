/**
 * The dashboard's front page: the live sections around one overview, plus
 * the outcome of a redrive just done.
 *
 * @module
 */
import { raw } from "hono/html";
import { Layout } from "./layout.tsx";
import type { Overview } from "./overview.ts";
import { renderSection, type SectionName } from "./overview_sections.tsx";

/** Props of {@linkcode OverviewPage}. */
export interface OverviewPageProps {
  readonly overview: Overview;
  /** A line saying what the last action did. @default {undefined} */
  readonly notice?: string;
}

const TITLES: Record<Exclude<SectionName, "summary">, { title: string; hint: string }> = {
  topics: { title: "Topics", hint: "Rate: messages made visible per second, last 10 s." },
  groups: {
    title: "Consumer groups",
    hint: "Backlog: not taken yet; lag: how long the oldest has waited.",
  },
  transactions: {
    title: "Transactions",
    hint: "Open ones wait for the producer's decision or a check-back.",
  },
  "dead-letters": {
    title: "Dead letters",
    hint: "Redrive delivers them again from attempt 1, after you confirm.",
  },
};

/**
 * The overview page.
 *
 * @example
 * ```tsx
 * import { OverviewPage } from "./overview_page.tsx";
 * declare const overview: import("./overview.ts").Overview;
 * const html = String(<OverviewPage overview={overview} />);
 * ```
 */
export function OverviewPage({ overview, notice }: OverviewPageProps) {
  const section = (name: Exclude<SectionName, "summary">) => (
    <section class="panel" id={name} data-section={name}>
      <h2>
        {TITLES[name].title} <small>{TITLES[name].hint}</small>
      </h2>
      <div class="body" data-live={name}>{raw(renderSection(name, overview))}</div>
    </section>
  );
  return (
    <Layout title="Escrow dashboard" live>
      {notice ? <p class="notice" role="status">{notice}</p> : null}
      <div class="summary" data-live="summary">{raw(renderSection("summary", overview))}</div>
      <div class="grid">
        {section("topics")}
        {section("groups")}
      </div>
      {section("transactions")}
      {section("dead-letters")}
    </Layout>
  );
}
