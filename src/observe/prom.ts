/**
 * prom-client's four classes the broker uses, loaded from their own files.
 * Its index also loads its cluster aggregator and default metrics, and with
 * them Node's `cluster` and `fs` modules: about 2 MB of heap the broker would
 * keep (and every major GC would mark) for nothing. The types still come
 * from the package's own declarations.
 *
 * @module
 */
import type * as PromClient from "prom-client";
import counter from "prom-client/lib/counter.js";
import gauge from "prom-client/lib/gauge.js";
import histogram from "prom-client/lib/histogram.js";
import registry from "prom-client/lib/registry.js";

/** prom-client's `Counter`. */
export const Counter = counter as typeof PromClient.Counter;
/** prom-client's `Counter`, as a type. */
export type Counter<T extends string> = PromClient.Counter<T>;
/** prom-client's `Gauge`. */
export const Gauge = gauge as typeof PromClient.Gauge;
/** prom-client's `Gauge`, as a type. */
export type Gauge<T extends string> = PromClient.Gauge<T>;
/** prom-client's `Histogram`. */
export const Histogram = histogram as typeof PromClient.Histogram;
/** prom-client's `Histogram`, as a type. */
export type Histogram<T extends string> = PromClient.Histogram<T>;
/** prom-client's `Registry`. */
export const Registry = registry as typeof PromClient.Registry;
/** prom-client's `Registry`, as a type. */
export type Registry = PromClient.Registry;
