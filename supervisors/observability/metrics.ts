/**
 * Prometheus metrics: one prom-client Registry per process, passed explicitly (the global default
 * registry is never used, so tests and several hosts in one process do not collide). Default
 * process metrics are collected into it. Helpers create counters, gauges and histograms already
 * registered, with the `strata_` prefix.
 */
import client from "prom-client";
import type { Counter, Gauge, Histogram, Registry } from "prom-client";

export type { Counter, Gauge, Histogram, Registry } from "prom-client";

export interface Metrics {
  readonly registry: Registry;
  /** `text/plain; version=0.0.4; charset=utf-8` */
  readonly contentType: string;
  counter<L extends string = string>(name: string, help: string, labelNames?: readonly L[]): Counter<L>;
  gauge<L extends string = string>(name: string, help: string, labelNames?: readonly L[], collect?: (g: Gauge<L>) => void | Promise<void>): Gauge<L>;
  histogram<L extends string = string>(name: string, help: string, labelNames?: readonly L[], buckets?: readonly number[]): Histogram<L>;
  /** The exposition text for GET /metrics. */
  text(): Promise<string>;
}

export interface CreateMetricsOptions {
  /** Prefix of every metric made through the helpers (default `strata_`). */
  prefix?: string;
  /** Collect Node/Deno process metrics (default true). */
  defaultMetrics?: boolean;
  /** Labels added to every metric (e.g. `{ host: "h1" }`). */
  labels?: Record<string, string>;
}

/** Latency buckets in seconds, from 0.5 ms to 10 s. */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export function createMetrics(opts: CreateMetricsOptions = {}): Metrics {
  const registry = new client.Registry();
  const prefix = opts.prefix ?? "strata_";
  if (opts.labels) registry.setDefaultLabels(opts.labels);
  if (opts.defaultMetrics ?? true) {
    try {
      client.collectDefaultMetrics({ register: registry, prefix });
    } catch {
      // A runtime without some process APIs (perf_hooks histograms) still serves the others.
    }
  }
  const full = (name: string) => {
    const n = name.startsWith(prefix) ? name : prefix + name;
    if (!NAME.test(n)) throw new TypeError(`bad metric name ${JSON.stringify(n)}`);
    return n;
  };
  return {
    registry,
    contentType: registry.contentType,
    counter: (name, help, labelNames = []) => new client.Counter({ name: full(name), help, labelNames, registers: [registry] }),
    gauge: (name, help, labelNames = [], collect) =>
      new client.Gauge({ name: full(name), help, labelNames, registers: [registry], ...(collect ? { collect() { return collect(this); } } : {}) }),
    histogram: (name, help, labelNames = [], buckets = LATENCY_BUCKETS) =>
      new client.Histogram({ name: full(name), help, labelNames, buckets: [...buckets], registers: [registry] }),
    text: () => registry.metrics(),
  };
}
