/**
 * One NATS micro service per entity kind (`strata-<kind>`), so that `$SRV.PING`, `$SRV.INFO`
 * and `$SRV.STATS` — what `nats micro ls|info|stats` sends — list Strata's kinds, their
 * endpoints and counts. The stats `data` of every endpoint is what the kind's provider returns
 * (active actors, mailbox depth, dead letters, owned partitions, lag).
 *
 * The micro protocol (v1: io.nats.micro.v1.{ping,info,stats}_response) is implemented here on
 * the Transport contract rather than with the prerelease @nats-io/services, so it runs on the
 * NATS and on the in-process transport alike, and so an endpoint can have NO queue group:
 * entity endpoints (state requests) must reach the owning host (DESIGN.md), so by default every
 * host receives the request and a host that does not own the entity stays silent (its handler
 * returns undefined). Stateless endpoints may set `queue: "q"` as @nats-io/services would.
 *
 * Handlers of one endpoint run concurrently (like @nats-io/services); ordering per entity is
 * the actor mailbox's job. A handler that throws answers with the micro error headers
 * (`Nats-Service-Error`, `Nats-Service-Error-Code`: 400 for non-retryable input, 500 otherwise)
 * plus Strata's error headers, and counts in num_errors / last_error.
 */
import { nuid } from "@nats-io/nats-core";
import type { Headers, Subscription, Transport, TransportMessage } from "./transport.ts";
import { errorMessage, errorToHeaders, isRetryable } from "../../protocols/errors.ts";
import { systemClock, type Clock } from "../clock.ts";
import type { Logger } from "pino";
import { defaultTransportLogger } from "./transport-logger.ts";

export const SERVICE_API_PREFIX = "$SRV";
export const SERVICE_ERROR_HEADER = "Nats-Service-Error";
export const SERVICE_ERROR_CODE_HEADER = "Nats-Service-Error-Code";

export const MicroResponseType = {
  ping: "io.nats.micro.v1.ping_response",
  info: "io.nats.micro.v1.info_response",
  stats: "io.nats.micro.v1.stats_response",
} as const;

/** Answer bytes, or undefined to stay silent (this host does not own the entity). */
export type EndpointHandler = (msg: TransportMessage) => Promise<Uint8Array | undefined> | Uint8Array | undefined;

export interface KindEndpoint {
  /** Endpoint name: letters, digits, `-`, `_`. */
  name: string;
  /** Subject it listens on; wildcards allowed (e.g. `strata.vault-term.*.*.state`). */
  subject: string;
  handler: EndpointHandler;
  /** Queue group. Default: none, every host receives every request (only the owner answers). */
  queue?: string;
  metadata?: Record<string, string>;
}

export interface KindServiceSpec {
  kind: string;
  /** Semantic version, e.g. `0.1.0`. */
  version: string;
  description: string;
  endpoints: KindEndpoint[];
  /** What the stats `data` carries; called on every `$SRV.STATS` request. */
  stats: () => Record<string, unknown> | Promise<Record<string, unknown>>;
  metadata?: Record<string, string>;
}

export interface RegisteredService {
  readonly kind: string;
  /** `strata-<kind>` */
  readonly name: string;
  /** Unique per registration (a nuid), as in `$SRV.PING.<name>.<id>`. */
  readonly id: string;
}

export interface KindServices {
  readonly services: readonly RegisteredService[];
  /** Unsubscribe everything and wait for the handlers in flight. */
  stop(): Promise<void>;
}

export interface EndpointInfo {
  name: string;
  subject: string;
  queue_group: string;
  metadata: Record<string, string>;
}

export interface EndpointStats {
  name: string;
  subject: string;
  queue_group: string;
  num_requests: number;
  num_errors: number;
  last_error: string;
  /** Nanoseconds. */
  processing_time: number;
  average_processing_time: number;
  data: unknown;
}

export function serviceName(kind: string): string {
  return `strata-${kind}`;
}

const NAME = /^[-\w]+$/;
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

class EndpointCounters {
  numRequests = 0;
  numErrors = 0;
  lastError = "";
  processingNs = 0;

  record(startedMs: number, err?: unknown): void {
    this.numRequests++;
    this.processingNs += Math.round((performance.now() - startedMs) * 1e6);
    if (err !== undefined) {
      this.numErrors++;
      this.lastError = errorMessage(err);
    }
  }
}

class KindService {
  readonly name: string;
  readonly id = nuid.next();
  private readonly started: string;
  private readonly counters: EndpointCounters[];
  private readonly subs: Subscription[] = [];
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly transport: Transport,
    private readonly spec: KindServiceSpec,
    clock: Clock,
    private readonly log: Logger,
  ) {
    this.name = serviceName(spec.kind);
    if (!NAME.test(this.name)) throw new TypeError(`bad kind for a service name: ${JSON.stringify(spec.kind)}`);
    if (!SEMVER.test(spec.version)) throw new TypeError(`service ${this.name}: version ${JSON.stringify(spec.version)} is not semver`);
    const names = new Set<string>();
    for (const ep of spec.endpoints) {
      if (!NAME.test(ep.name)) throw new TypeError(`service ${this.name}: bad endpoint name ${JSON.stringify(ep.name)}`);
      if (names.has(ep.name)) throw new TypeError(`service ${this.name}: endpoint ${ep.name} registered twice`);
      names.add(ep.name);
    }
    this.started = new Date(clock.now()).toISOString();
    this.counters = spec.endpoints.map(() => new EndpointCounters());
  }

  get registered(): RegisteredService {
    return { kind: this.spec.kind, name: this.name, id: this.id };
  }

  start(): void {
    try {
      const json = (make: () => unknown | Promise<unknown>) => (msg: TransportMessage) => this.track(this.answerJson(msg, make));
      for (const [verb, make] of [
        ["PING", () => this.ping()],
        ["INFO", () => this.info()],
        ["STATS", () => this.stats()],
      ] as const) {
        for (const subject of [`${SERVICE_API_PREFIX}.${verb}`, `${SERVICE_API_PREFIX}.${verb}.${this.name}`, `${SERVICE_API_PREFIX}.${verb}.${this.name}.${this.id}`]) {
          this.subs.push(this.transport.subscribe(subject, json(make)));
        }
      }
      this.spec.endpoints.forEach((ep, i) => {
        const handler = (msg: TransportMessage): void => this.track(this.answerEndpoint(ep, this.counters[i], msg));
        this.subs.push(this.transport.subscribe(ep.subject, handler, ep.queue ? { queue: ep.queue } : undefined));
      });
    } catch (err) {
      for (const sub of this.subs) sub.unsubscribe();
      throw err;
    }
  }

  async stop(): Promise<void> {
    for (const sub of this.subs.splice(0)) sub.unsubscribe();
    await Promise.all([...this.inFlight]);
  }

  ping(): Record<string, unknown> {
    return { type: MicroResponseType.ping, name: this.name, id: this.id, version: this.spec.version, metadata: this.metadata() };
  }

  info(): Record<string, unknown> {
    const endpoints: EndpointInfo[] = this.spec.endpoints.map((ep) => ({ name: ep.name, subject: ep.subject, queue_group: ep.queue ?? "", metadata: ep.metadata ?? {} }));
    return { ...this.ping(), type: MicroResponseType.info, description: this.spec.description, endpoints };
  }

  async stats(): Promise<Record<string, unknown>> {
    let data: unknown = null;
    try {
      data = await this.spec.stats();
    } catch (err) {
      data = { error: errorMessage(err) };
    }
    const endpoints: EndpointStats[] = this.spec.endpoints.map((ep, i) => {
      const c = this.counters[i];
      return {
        name: ep.name,
        subject: ep.subject,
        queue_group: ep.queue ?? "",
        num_requests: c.numRequests,
        num_errors: c.numErrors,
        last_error: c.lastError,
        processing_time: c.processingNs,
        average_processing_time: c.numRequests === 0 ? 0 : Math.round(c.processingNs / c.numRequests),
        data,
      };
    });
    return { ...this.ping(), type: MicroResponseType.stats, started: this.started, endpoints };
  }

  private metadata(): Record<string, string> {
    return { ...this.spec.metadata, "strata.kind": this.spec.kind };
  }

  private async answerJson(msg: TransportMessage, make: () => unknown | Promise<unknown>): Promise<void> {
    msg.respond(encoder.encode(JSON.stringify(await make())));
  }

  private async answerEndpoint(ep: KindEndpoint, counters: EndpointCounters, msg: TransportMessage): Promise<void> {
    const started = performance.now();
    let answer: Uint8Array | undefined;
    try {
      answer = await ep.handler(msg);
    } catch (err) {
      counters.record(started, err);
      const headers: Headers = {
        ...errorToHeaders(err),
        [SERVICE_ERROR_HEADER]: errorMessage(err).replace(/[\r\n]+/g, " ").slice(0, 1000),
        [SERVICE_ERROR_CODE_HEADER]: isRetryable(err) ? "500" : "400",
      };
      msg.respond(EMPTY, headers);
      return;
    }
    if (answer === undefined) return; // not this host's entity: stay silent, not counted
    counters.record(started);
    msg.respond(answer);
  }

  private track(work: Promise<void>): void {
    const p = work.catch((err: unknown) => {
      // respond() itself failed (payload too large, transport closed): nothing left to answer
      this.log.error({ err, service: this.name }, `${this.name}: could not answer`);
    });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }
}

/**
 * Register one micro service per kind on the transport. Entity endpoints have no queue group
 * unless `queue` is set (see the header comment).
 */
export async function registerKindServices(
  transport: Transport,
  kinds: readonly KindServiceSpec[],
  opts: { clock?: Clock; /** Where an answer that could not be sent is reported (default: the redacting logger at warn). */ log?: Logger } = {},
): Promise<KindServices> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? defaultTransportLogger();
  const seen = new Set<string>();
  for (const spec of kinds) {
    if (seen.has(spec.kind)) throw new TypeError(`kind ${spec.kind} registered twice`);
    seen.add(spec.kind);
  }
  const services = kinds.map((spec) => new KindService(transport, spec, clock, log));
  const started: KindService[] = [];
  try {
    for (const service of services) {
      service.start();
      started.push(service);
    }
  } catch (err) {
    await Promise.all(started.map((s) => s.stop()));
    throw err;
  }
  await transport.flush(); // subscriptions reached the server before anyone is told we are up
  return {
    services: services.map((s) => s.registered),
    stop: async () => {
      await Promise.all(services.map((s) => s.stop()));
    },
  };
}
