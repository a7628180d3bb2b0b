/**
 * In-process transport with the semantics of NATS core (the contract suite in
 * test/contract/transport.test.ts runs unchanged on this and on nats-transport.ts):
 *
 * - `*` / `>` wildcards (subject-match.ts), queue groups (one random member of each group gets a
 *   message; plain subscribers all get it), request/reply through `_INBOX.` subjects,
 *   NoRespondersError when nothing subscribes, RequestTimeoutError on the injected clock,
 *   PayloadTooLargeError above maxPayload (default 1 MiB, the NATS default).
 * - Delivery is asynchronous (never inside `publish`), in publish order per subscription, one
 *   message at a time: a handler's promise is awaited before the next message. The transport
 *   yields to the event loop after TURN_BUDGET deliveries in one turn, so handlers feeding each
 *   other cannot starve timers and I/O.
 * - The payload is copied once per publish (the sender may reuse its buffer) and the copy is
 *   shared by every subscriber, like the headers copy: treat both as read-only.
 * Hot path: an exact-subject cache hit costs one Map lookup; sync handlers cost no promise.
 */
import { setImmediate } from "node:timers";
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
import { SubjectIndex, assertValidQueue, assertValidSubject, type Subscriber } from "./subject-match.ts";
import { systemClock, type Clock, type TimerHandle } from "../clock.ts";

export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
/** Messages delivered in one event-loop turn before the transport yields to timers and I/O. */
const TURN_BUDGET = 4096;
const EMPTY_HEADERS: Headers = Object.freeze({}) as Headers;

export interface MemoryTransportOptions {
  /** Largest payload (body + encoded headers, counted as NATS does), default 1 MiB. */
  maxPayload?: number;
  /** Clock for request timeouts (tests inject a SimulatedClock). Default: systemClock. */
  clock?: Clock;
  /** Called when a handler throws or rejects; delivery continues with the next message. */
  onError?: (err: unknown, subject: string) => void;
}

export function createMemoryTransport(opts: MemoryTransportOptions = {}): Transport {
  return new MemoryTransport(opts);
}

/**
 * Size NATS counts against max_payload: body plus the encoded header block
 * (`NATS/1.0\r\n` + `key: value\r\n`… + `\r\n`). Header text is counted in UTF-16 units, which
 * equals bytes for the ASCII header names and values used here.
 */
export function payloadSize(data: Uint8Array, headers: Headers | undefined): number {
  if (headers === undefined) return data.byteLength;
  let size = data.byteLength + 12;
  for (const key in headers) size += key.length + headers[key].length + 4;
  return size;
}

class MemoryMessage implements TransportMessage {
  constructor(
    private readonly transport: MemoryTransport,
    readonly subject: string,
    readonly data: Uint8Array,
    readonly headers: Headers,
    readonly reply: string | undefined,
  ) {}

  respond(data: Uint8Array, headers?: Headers): void {
    if (this.reply !== undefined) this.transport.send(this.reply, data, headers, undefined);
  }
}

interface PendingRequest {
  resolve(msg: TransportMessage): void;
  reject(err: Error): void;
  timer: TimerHandle;
}

interface ProgressWaiter {
  target: number;
  resolve(): void;
}

class MemorySubscription implements Subscription, Subscriber {
  received = 0;
  /** Messages accepted into the queue / fully handled (handler returned or settled). */
  enqueued = 0;
  processed = 0;
  private buffer: (MemoryMessage | undefined)[] = [];
  private head = 0;
  private running = false;
  private stopped = false;
  private waiters: ProgressWaiter[] | undefined;
  private readonly runBound = (): void => void this.drain();

  constructor(
    private readonly transport: MemoryTransport,
    readonly subject: string,
    readonly queue: string | undefined,
    private readonly handler: MessageHandler,
  ) {}

  unsubscribe(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.transport.detach(this);
    this.buffer = [];
    this.head = 0;
    this.processed = this.enqueued;
    this.settleWaiters();
  }

  /** Stop receiving new messages but keep the queued ones (drain). */
  detachOnly(): void {
    this.transport.detach(this);
  }

  push(msg: MemoryMessage): void {
    if (this.stopped) return;
    this.buffer.push(msg);
    this.enqueued++;
    if (!this.running) {
      this.running = true;
      this.transport.schedule(this.runBound);
    }
  }

  /** Resolves once `target` messages have been handled (or the subscription stopped). */
  reach(target: number): Promise<void> {
    if (this.processed >= target) return Promise.resolve();
    return new Promise((resolve) => (this.waiters ??= []).push({ target, resolve }));
  }

  private async drain(): Promise<void> {
    while (this.head < this.buffer.length) {
      const msg = this.buffer[this.head] as MemoryMessage;
      this.buffer[this.head++] = undefined;
      this.received++;
      try {
        const result = this.handler(msg);
        if (result !== undefined && typeof (result as Promise<void>).then === "function") await result;
      } catch (err) {
        this.transport.reportError(err, msg);
      }
      if (this.stopped) return;
      this.processed++;
      if (this.waiters !== undefined) this.settleWaiters();
      if (this.transport.turnExhausted() && this.head < this.buffer.length) {
        this.compact();
        this.transport.defer(this.runBound);
        return;
      }
    }
    this.buffer.length = 0;
    this.head = 0;
    this.running = false;
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.buffer.length) {
      this.buffer = this.buffer.slice(this.head);
      this.head = 0;
    }
  }

  private settleWaiters(): void {
    const waiters = this.waiters;
    if (waiters === undefined) return;
    const left = waiters.filter((w) => {
      if (this.processed < w.target) return true;
      w.resolve();
      return false;
    });
    this.waiters = left.length > 0 ? left : undefined;
  }
}

class MemoryTransport implements Transport {
  readonly name = "memory" as const;
  readonly maxPayload: number;
  private readonly clock: Clock;
  private readonly onError: (err: unknown, subject: string) => void;
  private readonly index = new SubjectIndex<MemorySubscription>();
  private readonly subscriptions = new Set<MemorySubscription>();
  private readonly pending = new Map<string, PendingRequest>();
  /** `_INBOX.<random>.`: replies to this prefix go straight to the waiting request. */
  private readonly inboxPrefix = `_INBOX.${Math.random().toString(36).slice(2, 12)}${Date.now().toString(36)}.`;
  private nextRequest = 0;
  private state: "open" | "draining" | "closed" = "open";
  /** Deliveries scheduled or made in the current event-loop turn. */
  private turnWork = 0;
  private deferred: (() => void)[] = [];
  private deferScheduled = false;

  constructor(opts: MemoryTransportOptions) {
    const max = opts.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    if (!Number.isInteger(max) || max <= 0) throw new TypeError(`maxPayload must be a positive integer, got ${max}`);
    this.maxPayload = max;
    this.clock = opts.clock ?? systemClock;
    this.onError = opts.onError ?? ((err, subject) => console.error(`memory transport: handler for ${subject} failed:`, err));
  }

  publish(subject: string, data: Uint8Array, opts?: PublishOptions): void {
    this.send(subject, data, opts?.headers, opts?.reply);
  }

  /** publish without the options object (respond() uses it). */
  send(subject: string, data: Uint8Array, headers: Headers | undefined, reply: string | undefined): void {
    if (this.state === "closed") throw new Error("memory transport is closed");
    if (data.byteLength > this.maxPayload || (headers !== undefined && payloadSize(data, headers) > this.maxPayload)) {
      throw new PayloadTooLargeError(subject, payloadSize(data, headers), this.maxPayload);
    }
    if (subject.startsWith(this.inboxPrefix)) {
      const waiting = this.pending.get(subject);
      if (waiting !== undefined) {
        this.pending.delete(subject);
        this.clock.clearTimeout(waiting.timer);
        waiting.resolve(new MemoryMessage(this, subject, data.slice(), headers === undefined ? EMPTY_HEADERS : { ...headers }, reply));
      }
      return; // a late reply to a request that timed out is dropped, as on NATS
    }
    const targets = this.index.match(subject);
    if (targets.size === 0) return;
    const msg = new MemoryMessage(this, subject, data.slice(), headers === undefined ? EMPTY_HEADERS : { ...headers }, reply);
    const plain = targets.plain;
    for (let i = 0; i < plain.length; i++) plain[i].push(msg);
    const groups = targets.groups;
    for (let i = 0; i < groups.length; i++) {
      const members = groups[i];
      members[members.length === 1 ? 0 : Math.floor(Math.random() * members.length)].push(msg);
    }
  }

  subscribe(subject: string, handler: MessageHandler, opts?: SubscribeOptions): Subscription {
    if (this.state !== "open") throw new Error("memory transport is closed");
    const queue = opts?.queue;
    if (queue !== undefined) assertValidQueue(queue);
    const sub = new MemorySubscription(this, subject, queue, handler);
    this.index.add(subject, sub); // validates the pattern
    this.subscriptions.add(sub);
    return sub;
  }

  request(subject: string, data: Uint8Array, opts: RequestOptions): Promise<TransportMessage> {
    if (this.state === "closed") return Promise.reject(new Error("memory transport is closed"));
    if (this.index.match(subject).size === 0) {
      try {
        assertValidSubject(subject);
      } catch (err) {
        return Promise.reject(err);
      }
      return Promise.reject(new NoRespondersError(subject));
    }
    const inbox = this.inboxPrefix + (this.nextRequest++).toString(36);
    return new Promise<TransportMessage>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        if (this.pending.delete(inbox)) reject(new RequestTimeoutError(subject, opts.timeoutMs));
      }, opts.timeoutMs);
      this.pending.set(inbox, { resolve, reject, timer });
      try {
        this.send(subject, data, opts.headers, inbox);
      } catch (err) {
        this.pending.delete(inbox);
        this.clock.clearTimeout(timer);
        reject(err);
      }
    });
  }

  async flush(): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const sub of this.subscriptions) if (sub.processed < sub.enqueued) waits.push(sub.reach(sub.enqueued));
    await Promise.all(waits);
  }

  /** Drain: stop new deliveries, let queued messages be handled, then fail waiting requests. */
  async close(): Promise<void> {
    if (this.state !== "open") return;
    this.state = "draining";
    const subs = [...this.subscriptions];
    for (const sub of subs) sub.detachOnly();
    await Promise.all(subs.map((sub) => sub.reach(sub.enqueued)));
    for (const sub of subs) sub.unsubscribe();
    this.state = "closed";
    for (const [inbox, waiting] of this.pending) {
      this.pending.delete(inbox);
      this.clock.clearTimeout(waiting.timer);
      waiting.reject(new Error("memory transport closed before the reply arrived"));
    }
  }

  detach(sub: MemorySubscription): void {
    this.index.remove(sub.subject, sub);
    this.subscriptions.delete(sub);
  }

  /**
   * Run a subscription's drain soon: as a microtask while this event-loop turn has delivered
   * fewer than TURN_BUDGET messages, else on the next turn (setImmediate), so handlers that
   * feed each other synchronously cannot starve timers and I/O.
   */
  schedule(run: () => void): void {
    if (this.turnExhausted()) this.defer(run);
    else queueMicrotask(run);
  }

  /** Run on the next event-loop turn; one setImmediate serves every deferred run of a turn. */
  defer(run: () => void): void {
    this.deferred.push(run);
    if (!this.deferScheduled) {
      this.deferScheduled = true;
      setImmediate(this.runDeferred);
    }
  }

  private readonly runDeferred = (): void => {
    this.deferScheduled = false;
    this.turnWork = 0;
    const runs = this.deferred;
    this.deferred = [];
    for (const run of runs) run();
  };

  /** Counts one unit of work in this turn; true once the turn's budget is used up. */
  turnExhausted(): boolean {
    if (this.turnWork++ === 0) setImmediate(this.resetTurn);
    return this.turnWork > TURN_BUDGET;
  }

  private readonly resetTurn = (): void => {
    this.turnWork = 0;
  };

  reportError(err: unknown, msg: TransportMessage): void {
    try {
      this.onError(err, msg.subject);
    } catch {
      // an error reporter that throws must not stop delivery
    }
  }
}
