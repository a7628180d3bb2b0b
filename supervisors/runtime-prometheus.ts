/**
 * The runtime's Prometheus metrics, on the registry of observability/metrics.ts:
 *   strata_actor_messages_total{kind,outcome}      counter   ok | dead_letter | retry
 *   strata_group_commit_seconds{kind,outcome}      histogram ok | failed (clock time of the transaction)
 *   strata_group_commit_actors{kind}               histogram actors per committed transaction
 *   strata_actors_resident{kind}, strata_actor_mailbox_depth{kind}, strata_actors_failed{kind},
 *   strata_actor_restarts{kind}, strata_actor_dead_letters{kind}, strata_actor_rejected{kind}
 *                                                  gauges read from ActorSystem.stats() at scrape time
 * Usage: `const hooks = runtimeMetrics(metrics); new ActorSystem({ …, metrics: hooks });
 * registerActorGauges(metrics, system);`
 */
import type { Metrics } from "./observability/metrics.ts";
import type { RuntimeMetrics } from "./runtime-metrics.ts";
import type { KindStats } from "./kind-supervisor.ts";

const BATCH_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000] as const;

export function runtimeMetrics(metrics: Metrics): RuntimeMetrics {
  const messages = metrics.counter("actor_messages_total", "Messages finished by actors, by outcome", ["kind", "outcome"] as const);
  const commitSeconds = metrics.histogram("group_commit_seconds", "Duration of group-commit transactions", ["kind", "outcome"] as const);
  const commitActors = metrics.histogram("group_commit_actors", "Actors saved per committed transaction", ["kind"] as const, BATCH_BUCKETS);
  return {
    messageProcessed(kind, outcome) {
      messages.inc({ kind, outcome });
    },
    commit(kind, actors, ms, ok) {
      commitSeconds.observe({ kind, outcome: ok ? "ok" : "failed" }, ms / 1000);
      if (ok) commitActors.observe({ kind }, actors);
    },
  };
}

/** Gauges per kind, read from `stats()` when Prometheus scrapes. */
export function registerActorGauges(metrics: Metrics, system: { stats(): KindStats[] }): void {
  const gauge = (name: string, help: string, pick: (s: KindStats) => number): void => {
    metrics.gauge(name, help, ["kind"] as const, (g) => {
      g.reset();
      for (const s of system.stats()) g.set({ kind: s.kind }, pick(s));
    });
  };
  gauge("actors_resident", "Actors in memory", (s) => s.resident);
  gauge("actor_mailbox_depth", "Messages queued in all mailboxes of the kind", (s) => s.mailboxDepth);
  gauge("actor_mailbox_depth_max", "Messages queued in the fullest mailbox of the kind", (s) => s.maxMailboxDepth);
  gauge("actors_failed", "Actors marked failed after too many restarts", (s) => s.failed);
  gauge("actor_restarts", "Actor restarts since start", (s) => s.restarts);
  gauge("actor_dead_letters", "Messages dead-lettered since start", (s) => s.deadLetters);
  gauge("actor_rejected", "Messages refused by a full mailbox since start", (s) => s.rejected);
  gauge("actor_commit_failures", "Failed group commits since start", (s) => s.commitFailures);
}
