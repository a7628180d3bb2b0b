/**
 * Optional hooks the runtime calls as it works, so the metrics module (observability/) can feed
 * Prometheus counters and histograms without the runtime depending on prom-client. Gauges
 * (resident actors, mailbox depth, failed actors) are read from `ActorSystem.stats()` at scrape time.
 */
export interface RuntimeMetrics {
  /** One message finished: applied (`ok`), dead-lettered, or failed retryably (`retry`, the actor restarts). */
  messageProcessed?(kind: string, outcome: "ok" | "dead_letter" | "retry"): void;
  /** One group commit of `actors` actors took `ms` (clock time); ok=false when it failed. */
  commit?(kind: string, actors: number, ms: number, ok: boolean): void;
}
