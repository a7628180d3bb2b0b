/**
 * The Transport contract over NATS core (@nats-io/transport-node 3.x). The contract suite in
 * test/contract/transport.test.ts runs unchanged on this and on memory-transport.ts.
 *
 * - Handlers run one at a time per subscription, in arrival order: a subscription's callback
 *   runs the handler inline when idle and queues messages while a handler's promise is pending.
 * - Requests share one wildcard inbox subscription (`_INBOX.<nuid>.*`); timeouts run on the
 *   injected clock (RequestTimeoutError); the server's 503 status on the inbox becomes
 *   NoRespondersError.
 * - maxPayload is the server's `max_payload` (INFO), optionally lowered by opts.maxPayload;
 *   PayloadTooLargeError is thrown before anything is sent.
 * - Headers go through nats-core `headers()`; a header with several values arrives as its first.
 * - `close()` drains: subscriptions stop at the server, queued messages are handled, then the
 *   connection drains and closes.
 * `.connection` exposes the NatsConnection for JetStream and KV.
 */
import { connect } from "@nats-io/transport-node";
import { createInbox, headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection, type Subscription as NatsSubscription } from "@nats-io/nats-core";
import {
  NoRespondersError,
  PayloadTooLargeError,
  RequestTimeoutError,
  type Headers,
  type MessageHandler,
  type PublishOptions,
  type RequestOptions,
  type SubscribeOptions,
  type Subscription,
  type Transport,
  type TransportMessage,
} from "./transport.ts";
import { DEFAULT_MAX_PAYLOAD, payloadSize } from "./memory-transport.ts";
import { assertValidPattern, assertValidQueue } from "./subject-match.ts";
import { natsConnectTarget } from "./nats-credentials.ts";
import { systemClock, type Clock, type TimerHandle } from "../clock.ts";
import type { Logger } from "pino";
import { defaultTransportLogger } from "./transport-logger.ts";

export interface NatsTransport extends Transport {
  readonly name: "nats";
  /** The underlying connection, for JetStream (`jetstream(nc)`) and KV (`new Kvm(nc)`). */
  readonly connection: NatsConnection;
}

export interface NatsTransportOptions {
  /** Connection name shown by the server (`nats server report connections`). */
  name?: string;
  /** Lower the payload limit below the server's max_payload. */
  maxPayload?: number;
  /** Clock for request timeouts (tests inject a SimulatedClock). Default: systemClock. */
  clock?: Clock;
  /** Reconnect attempts after a lost connection; -1 (default) retries forever. */
  maxReconnectAttempts?: number;
  /** Called when a handler throws or rejects, or a subscription fails; delivery continues. Default: logged on `log`. */
  onError?: (err: unknown, subject: string) => void;
  /** Where the default onError reports (default: the redacting logger at warn, transport-logger.ts). */
  log?: Logger;
}

export async function connectNatsTransport(url: string, opts: NatsTransportOptions = {}): Promise<NatsTransport> {
  if (opts.maxPayload !== undefined && (!Number.isInteger(opts.maxPayload) || opts.maxPayload <= 0)) {
    throw new TypeError(`maxPayload must be a positive integer, got ${opts.maxPayload}`);
  }
  const nc = await connect({ ...natsConnectTarget(url), name: opts.name, maxReconnectAttempts: opts.maxReconnectAttempts ?? -1 });
  return new NatsTransportImpl(nc, opts);
}

const EMPTY_HEADERS: Headers = Object.freeze({}) as Headers;
const NO_RESPONDERS_STATUS = 503;

function toRecord(hdrs: MsgHdrs | undefined): Headers {
  if (hdrs === undefined) return EMPTY_HEADERS;
  const out: Headers = {};
  for (const [key, values] of hdrs) if (values.length > 0) out[key] = values[0];
  return out;
}

function toNatsHeaders(headers: Headers): MsgHdrs {
  const h = natsHeaders();
  for (const key in headers) h.set(key, headers[key]);
  return h;
}

class NatsMessage implements TransportMessage {
  private decodedHeaders: Headers | undefined;

  constructor(
    private readonly transport: NatsTransportImpl,
    private readonly msg: Msg,
  ) {}

  get subject(): string {
    return this.msg.subject;
  }

  get data(): Uint8Array {
    return this.msg.data;
  }

  get reply(): string | undefined {
    return this.msg.reply || undefined;
  }

  get headers(): Headers {
    return (this.decodedHeaders ??= toRecord(this.msg.headers));
  }

  respond(data: Uint8Array, headers?: Headers): void {
    if (this.msg.reply) this.transport.send(this.msg.reply, data, headers, undefined);
  }
}

interface PendingRequest {
  subject: string;
  resolve(msg: TransportMessage): void;
  reject(err: Error): void;
  timer: TimerHandle;
}

class NatsSubscriptionImpl implements Subscription {
  received = 0;
  private readonly natsSub: NatsSubscription;
  private buffer: (Msg | undefined)[] = [];
  private head = 0;
  private running = false;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  private readonly continueBound = (): void => void this.drainQueue();

  constructor(
    private readonly transport: NatsTransportImpl,
    readonly subject: string,
    queue: string | undefined,
    private readonly handler: MessageHandler,
  ) {
    this.natsSub = transport.connection.subscribe(subject, {
      queue,
      callback: (err, msg) => {
        if (err !== null) {
          transport.reportError(err, subject);
          return;
        }
        this.onMessage(msg);
      },
    });
  }

  unsubscribe(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (!this.transport.connection.isClosed()) this.natsSub.unsubscribe();
    this.buffer = [];
    this.head = 0;
    this.transport.forget(this);
    this.settleIdle();
  }

  /**
   * Stop at the server (when reachable), let every message already received be handled.
   * Without a server nothing more arrives, so only the local queue is finished.
   */
  async drain(serverReachable: boolean): Promise<void> {
    if (this.stopped) return;
    if (serverReachable) {
      try {
        await this.natsSub.drain();
      } catch {
        // the connection dropped meanwhile: finish what is queued
      }
    }
    if (this.running) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    this.unsubscribe();
  }

  private onMessage(msg: Msg): void {
    if (this.stopped) return;
    if (this.running) {
      this.buffer.push(msg);
      return;
    }
    this.running = true;
    const pending = this.invoke(msg);
    if (pending === undefined) this.running = false;
    else void pending.then(this.continueBound);
  }

  /** Runs the handler; returns a promise only when the handler is still working. */
  private invoke(msg: Msg): Promise<void> | undefined {
    this.received++;
    const message = new NatsMessage(this.transport, msg);
    try {
      const result = this.handler(message);
      if (result !== undefined && typeof (result as Promise<void>).then === "function") {
        return (result as Promise<void>).then(undefined, (err: unknown) => this.transport.reportError(err, msg.subject));
      }
    } catch (err) {
      this.transport.reportError(err, msg.subject);
    }
    return undefined;
  }

  private async drainQueue(): Promise<void> {
    while (this.head < this.buffer.length && !this.stopped) {
      const msg = this.buffer[this.head] as Msg;
      this.buffer[this.head++] = undefined;
      const pending = this.invoke(msg);
      if (pending !== undefined) await pending;
      if (this.head > 1024 && this.head * 2 > this.buffer.length) {
        this.buffer = this.buffer.slice(this.head);
        this.head = 0;
      }
    }
    this.buffer.length = 0;
    this.head = 0;
    this.running = false;
    this.settleIdle();
  }

  private settleIdle(): void {
    const waiters = this.idleWaiters;
    if (waiters.length === 0) return;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

class NatsTransportImpl implements NatsTransport {
  readonly name = "nats" as const;
  private readonly clock: Clock;
  private readonly limit: number;
  private readonly onError: (err: unknown, subject: string) => void;
  private readonly subscriptions = new Set<NatsSubscriptionImpl>();
  private readonly pending = new Map<string, PendingRequest>();
  private readonly inboxPrefix: string;
  private nextRequest = 0;
  private closing: Promise<void> | undefined;
  /** False between a disconnect and the next reconnect (drain then cannot reach the server). */
  private connected = true;

  constructor(
    readonly connection: NatsConnection,
    opts: NatsTransportOptions,
  ) {
    this.clock = opts.clock ?? systemClock;
    this.limit = opts.maxPayload ?? Number.POSITIVE_INFINITY;
    const log = opts.log;
    this.onError = opts.onError ?? ((err, subject) => (log ?? defaultTransportLogger()).error({ err, subject }, `nats transport: handler for ${subject} failed`));
    const inbox = createInbox();
    this.inboxPrefix = `${inbox}.`;
    connection.subscribe(`${inbox}.*`, { callback: (err, msg) => (err === null ? this.onReply(msg) : this.reportError(err, `${inbox}.*`)) });
    void this.watchStatus();
  }

  get maxPayload(): number {
    return Math.min(this.connection.info?.max_payload ?? DEFAULT_MAX_PAYLOAD, this.limit);
  }

  publish(subject: string, data: Uint8Array, opts?: PublishOptions): void {
    this.send(subject, data, opts?.headers, opts?.reply);
  }

  send(subject: string, data: Uint8Array, headers: Headers | undefined, reply: string | undefined): void {
    const max = this.maxPayload;
    if (data.byteLength > max || (headers !== undefined && payloadSize(data, headers) > max)) {
      throw new PayloadTooLargeError(subject, payloadSize(data, headers), max);
    }
    const natsHdrs = headers === undefined ? undefined : toNatsHeaders(headers);
    try {
      if (natsHdrs === undefined && reply === undefined) this.connection.publish(subject, data);
      else this.connection.publish(subject, data, { headers: natsHdrs, reply });
    } catch (err) {
      // nats.js counts the encoded headers exactly; our estimate may differ by a few bytes.
      if (err instanceof Error && err.message.includes("max_payload")) {
        throw new PayloadTooLargeError(subject, payloadSize(data, headers), max);
      }
      throw err;
    }
  }

  subscribe(subject: string, handler: MessageHandler, opts?: SubscribeOptions): Subscription {
    if (this.closing !== undefined) throw new Error("nats transport is closed");
    assertValidPattern(subject); // the same TypeError as the memory transport, before the server sees it
    const queue = opts?.queue;
    if (queue !== undefined) assertValidQueue(queue);
    const sub = new NatsSubscriptionImpl(this, subject, queue, handler);
    this.subscriptions.add(sub);
    return sub;
  }

  request(subject: string, data: Uint8Array, opts: RequestOptions): Promise<TransportMessage> {
    const inbox = this.inboxPrefix + (this.nextRequest++).toString(36);
    return new Promise<TransportMessage>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        if (this.pending.delete(inbox)) reject(new RequestTimeoutError(subject, opts.timeoutMs));
      }, opts.timeoutMs);
      this.pending.set(inbox, { subject, resolve, reject, timer });
      try {
        this.send(subject, data, opts.headers, inbox);
      } catch (err) {
        this.pending.delete(inbox);
        this.clock.clearTimeout(timer);
        reject(err);
      }
    });
  }

  flush(): Promise<void> {
    return this.connection.flush();
  }

  close(): Promise<void> {
    this.closing ??= this.drainAndClose();
    return this.closing;
  }

  private async drainAndClose(): Promise<void> {
    const reachable = this.connected && !this.connection.isClosed();
    await Promise.all([...this.subscriptions].map((sub) => sub.drain(reachable)));
    if (!this.connection.isClosed()) {
      try {
        if (this.connected) await this.connection.drain();
        else await this.connection.close();
      } catch {
        await this.connection.close(); // drain needs the server; without it, just close
      }
    }
    for (const [inbox, waiting] of this.pending) {
      this.pending.delete(inbox);
      this.clock.clearTimeout(waiting.timer);
      waiting.reject(new Error(`nats transport closed before the reply to ${waiting.subject} arrived`));
    }
  }

  private async watchStatus(): Promise<void> {
    try {
      for await (const status of this.connection.status()) {
        if (status.type === "disconnect") this.connected = false;
        else if (status.type === "reconnect") this.connected = true;
      }
    } catch {
      // the iterator ends with the connection
    }
  }

  private onReply(msg: Msg): void {
    const waiting = this.pending.get(msg.subject);
    if (waiting === undefined) return; // late reply after a timeout: dropped
    this.pending.delete(msg.subject);
    this.clock.clearTimeout(waiting.timer);
    if (msg.data.length === 0 && msg.headers?.code === NO_RESPONDERS_STATUS) waiting.reject(new NoRespondersError(waiting.subject));
    else waiting.resolve(new NatsMessage(this, msg));
  }

  forget(sub: NatsSubscriptionImpl): void {
    this.subscriptions.delete(sub);
  }

  reportError(err: unknown, subject: string): void {
    try {
      this.onError(err, subject);
    } catch {
      // an error reporter that throws must not stop delivery
    }
  }
}
