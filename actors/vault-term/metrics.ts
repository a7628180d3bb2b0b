/**
 * vault-term metrics under the seed's names (seed 004), registered in the host's registry:
 *   events_processed_total{kind}            messages committed (new or already journaled)
 *   events_failed_total{kind}               messages dead-lettered
 *   event_processing_duration_seconds{kind} one batch: parse + journal + apply + commit
 *   circuit_breaker_state{dependency}       0 closed, 1 open, 2 half-open
 *   vault_term_analytics_lag_seconds        time a term waited in term_update_queue
 */
import client from "prom-client";
import type { Registry } from "prom-client";
import { BREAKER_STATES, type BreakerState } from "./circuit-breaker.ts";

export interface VaultTermMetrics {
  batch(summary: { messages: number; deadLettered: number }, seconds: number): void;
  analyticsLag(seconds: readonly number[]): void;
  breaker(dependency: string, state: BreakerState): void;
}

const LAG_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export function createVaultTermMetrics(registry: Registry, kind = "vault-term"): VaultTermMetrics {
  const reuse = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  const processed = reuse("events_processed_total", () => new client.Counter({ name: "events_processed_total", help: "Events processed (committed to the journal)", labelNames: ["kind"], registers: [registry] }));
  const failed = reuse("events_failed_total", () => new client.Counter({ name: "events_failed_total", help: "Events dead-lettered", labelNames: ["kind"], registers: [registry] }));
  const duration = reuse("event_processing_duration_seconds", () => new client.Histogram({ name: "event_processing_duration_seconds", help: "Duration of one batch: parse, journal, apply, commit", labelNames: ["kind"], registers: [registry] }));
  const breaker = reuse("circuit_breaker_state", () => new client.Gauge({ name: "circuit_breaker_state", help: "Circuit breaker state per dependency: 0 closed, 1 open, 2 half-open", labelNames: ["dependency"], registers: [registry] }));
  const lag = reuse("vault_term_analytics_lag_seconds", () => new client.Histogram({ name: "vault_term_analytics_lag_seconds", help: "Time a term waited for triple analytics", buckets: LAG_BUCKETS, registers: [registry] }));
  return {
    batch(summary, seconds) {
      processed.inc({ kind }, summary.messages - summary.deadLettered);
      if (summary.deadLettered > 0) failed.inc({ kind }, summary.deadLettered);
      duration.observe({ kind }, seconds);
    },
    analyticsLag(values) {
      for (const v of values) lag.observe(v);
    },
    breaker(dependency, state) {
      breaker.set({ dependency }, BREAKER_STATES[state]);
    },
  };
}
