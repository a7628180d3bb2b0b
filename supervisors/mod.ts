/**
 * The runtime's public surface (supervisors/): the actor system, the kind contract, the clock,
 * the runtime's errors and metrics hooks. Transports live in `transport/`, logging and the
 * Prometheus registry in `observability/`.
 */
export { ActorSystem } from "./actor-system.ts";
export type { ActorSystemOptions, SendOptions, AskOptions, ActorInspection, KindStats } from "./actor-system.ts";
export type { ActorKind, ActorContext, HandleResult, KindOptions, RestartPolicy, DeadLetter, DeadLetterSink } from "./actor-kind.ts";
export { DEFAULT_KIND_OPTIONS } from "./actor-kind.ts";
export { systemClock, SimulatedClock, flushMicrotasks } from "./clock.ts";
export type { Clock, TimerHandle } from "./clock.ts";
export { backoffDelay, restartsInWindow, shouldEscalate } from "./backoff.ts";
export { verbForType, messageSubject } from "./routing.ts";
export {
  MailboxFullError,
  AskTimeoutError,
  CommitFailedError,
  ActorResetError,
  ActorFailedError,
  UnknownKindError,
  NoRouteError,
  runtimeErrorFromHeaders,
} from "./runtime-errors.ts";
export type { RuntimeMetrics } from "./runtime-metrics.ts";
export { runtimeMetrics, registerActorGauges } from "./runtime-prometheus.ts";
