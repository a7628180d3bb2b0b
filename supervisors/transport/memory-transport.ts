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
 * - HandingTransport (publishHanded / requestHanded / respondHanded): the routing layer hands
 *   over the JSON text and the decoded value instead of bytes; nothing is copied or decoded, the
 *   payload limit is still enforced, and `data` is encoded from the text only if read.
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
import type { Logger } from "pino";
import { defaultTransportLogger } from "./transport-logger.ts";

export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
/** Messages delivered in one event-loop turn before the transport yields to timers and I/O. */
const TURN_BUDGET = 4096;
const EMPTY_HEADERS: Headers = Object.freeze({}) as Headers;

export interface MemoryTransportOptions {
  /** Largest payload (body + encoded headers, counted as NATS does), default 1 MiB. */
  maxPayload?: number;
  /** Clock for request timeouts (tests inject a SimulatedClock). Default: systemClock. */
  clock?: Clock;
  /** Called when a handler throws or rejects; delivery continues with the next message. Default: logged on `log`. */
  onError?: (err: unknown, subject: string) => void;
  /** Where the default onError reports (default: the redacting logger at warn, transport-logger.ts). */
  log?: Logger;
}

export function createMemoryTransport(opts: MemoryTransportOptions = {}): Transport {
  return new MemoryTransport(opts);
}

/** Size of a handed payload as NATS would count it; encodes only when the text could be near the limit. */
function handedSize(payload: HandedPayload, headers: Headers | undefined, max: number): number {
  const headerSize = headers === undefined ? 0 : payloadSize(EMPTY_BYTES, headers);
  // UTF-8 takes at most 3 bytes per UTF-16 unit: the exact size is needed only when a bound exceeds the limit.
  if (payload.maxBytes !== undefined && payload.maxBytes + headerSize <= max) return -1;
  const text = payload.text;
  if (text.length * 3 + headerSize <= max) return -1;
  return textEncoder.encode(text).byteLength + headerSize;
}

const EMPTY_BYTES = new Uint8Array(0);

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

/**
 * A payload the sender hands over instead of bytes: the JSON `text` and the `value` it was made
 * from. Nothing is copied: the sender must not change either afterwards, and receivers treat the
 * value as read-only (as on the direct local path). The bytes (`data`) are encoded from the text
 * only when someone reads them.
 */
export interface HandedPayload {
  /** The JSON text (what NATS would carry); may be computed when first read. */
  readonly text: string;
  readonly value: unknown;
  /** An upper bound of the UTF-8 size of `text`, when known without making the text. */
  readonly maxBytes?: number;
}

/** A message of the in-process transport; `handed` is set when the sender handed a value over. */
export interface HandedMessage extends TransportMessage {
  readonly handed: HandedPayload | undefined;
  /** respond() with a handed payload (no copy, no encoding unless the bytes are read). */
  respondHanded(payload: HandedPayload, headers?: Headers): void;
}

/**
 * The in-process transport's extra surface for the routing layer: publish and request with a
 * handed payload. The receiver still sees a normal TransportMessage (its `data` is the UTF-8 of
 * the text), so code written against the Transport contract cannot tell the difference.
 */
export interface HandingTransport extends Transport {
  /** The clock request timeouts run on (a requester on the same clock needs no timer of its own). */
  readonly clock: Clock;
  publishHanded(subject: string, payload: HandedPayload, headers?: Headers): void;
  requestHanded(subject: string, payload: HandedPayload, opts: RequestOptions): Promise<HandedMessage>;
}

export function canHandOver(transport: Transport): transport is HandingTransport {
  return transport instanceof MemoryTransport;
}

const textEncoder = new TextEncoder();

class MemoryMessage implements HandedMessage {
  private bytes: Uint8Array | undefined;

  constructor(
    private readonly transport: MemoryTransport,
    readonly subject: string,
    data: Uint8Array | undefined,
    readonly handed: HandedPayload | undefined,
    readonly headers: Headers,
    readonly reply: string | undefined,
  ) {
    this.bytes = data;
  }

  get data(): Uint8Array {
    if (this.bytes === undefined) this.bytes = textEncoder.encode((this.handed as HandedPayload).text);
    return this.bytes;
  }

  respond(data: Uint8Array, headers?: Headers): void {
    if (this.reply !== undefined) this.transport.send(this.reply, data, headers, undefined);
  }

  respondHanded(payload: HandedPayload, headers?: Headers): void {
    if (this.reply !== undefined) this.transport.sendHanded(this.reply, payload, headers, undefined);
  }
}

interface PendingRequest {
  resolve(msg: HandedMessage): void;
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
  private readonly runBound = (): void => this.drain();

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

  /**
   * Delivers queued messages in order. Synchronous while handlers return nothing (no promise is
   * made per message); a handler's promise suspends the loop until it settles.
   */
  private drain(): void {
    while (this.head < this.buffer.length) {
      const msg = this.buffer[this.head] as MemoryMessage;
      this.buffer[this.head++] = undefined;
      this.received++;
      let result: void | Promise<void>;
      try {
        result = this.handler(msg);
      } catch (err) {
        this.transport.reportError(err, msg);
        result = undefined;
      }
      if (result !== undefined && typeof (result as Promise<void>).then === "function") {
        (result as Promise<void>).then(
          () => this.resume(),
          (err: unknown) => {
            this.transport.reportError(err, msg);
            this.resume();
          },
        );
        return;
      }
      if (!this.handled()) return;
    }
    this.buffer.length = 0;
    this.head = 0;
    this.running = false;
  }

  private resume(): void {
    if (this.handled()) this.drain();
  }

  /** Counts one handled message; false when the loop must stop here (unsubscribed, or the turn's budget is used up). */
  private handled(): boolean {
    if (this.stopped) return false;
    this.processed++;
    if (this.waiters !== undefined) this.settleWaiters();
    if (this.transport.turnExhausted() && this.head < this.buffer.length) {
      this.compact();
      this.transport.defer(this.runBound);
      return false;
    }
    return true;
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
  readonly clock: Clock;
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
    const log = opts.log;
    this.onError = opts.onError ?? ((err, subject) => (log ?? defaultTransportLogger()).error({ err, subject }, `memory transport: handler for ${subject} failed`));
  }

  publish(subject: string, data: Uint8Array, opts?: PublishOptions): void {
    this.send(subject, data, opts?.headers, opts?.reply);
  }

  /** publish without the options object (respond() uses it). The bytes and headers are copied. */
  send(subject: string, data: Uint8Array, headers: Headers | undefined, reply: string | undefined): void {
    if (this.state === "closed") throw new Error("memory transport is closed");
    if (data.byteLength > this.maxPayload || (headers !== undefined && payloadSize(data, headers) > this.maxPayload)) {
      throw new PayloadTooLargeError(subject, payloadSize(data, headers), this.maxPayload);
    }
    this.deliver(subject, data.slice(), undefined, headers === undefined ? EMPTY_HEADERS : { ...headers }, reply);
  }

  publishHanded(subject: string, payload: HandedPayload, headers?: Headers): void {
    this.sendHanded(subject, payload, headers, undefined);
  }

  /** send() of a handed payload: the sender gives up the payload and the headers object (no copies). */
  sendHanded(subject: string, payload: HandedPayload, headers: Headers | undefined, reply: string | undefined): void {
    if (this.state === "closed") throw new Error("memory transport is closed");
    const size = handedSize(payload, headers, this.maxPayload);
    if (size > this.maxPayload) throw new PayloadTooLargeError(subject, size, this.maxPayload);
    this.deliver(subject, undefined, payload, headers === undefined ? EMPTY_HEADERS : headers, reply);
  }

  private deliver(subject: string, data: Uint8Array | undefined, handed: HandedPayload | undefined, headers: Headers, reply: string | undefined): void {
    if (subject.startsWith(this.inboxPrefix)) {
      const waiting = this.pending.get(subject);
      if (waiting !== undefined) {
        this.pending.delete(subject);
        this.clock.clearTimeout(waiting.timer);
        waiting.resolve(new MemoryMessage(this, subject, data, handed, headers, reply));
      }
      return; // a late reply to a request that timed out is dropped, as on NATS
    }
    const targets = this.index.match(subject);
    if (targets.size === 0) return;
    const msg = new MemoryMessage(this, subject, data, handed, headers, reply);
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
    return this.requestWith(subject, data, undefined, opts);
  }

  requestHanded(subject: string, payload: HandedPayload, opts: RequestOptions): Promise<HandedMessage> {
    return this.requestWith(subject, undefined, payload, opts);
  }

  private requestWith(subject: string, data: Uint8Array | undefined, handed: HandedPayload | undefined, opts: RequestOptions): Promise<HandedMessage> {
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
    return new Promise<HandedMessage>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        if (this.pending.delete(inbox)) reject(new RequestTimeoutError(subject, opts.timeoutMs));
      }, opts.timeoutMs);
      this.pending.set(inbox, { resolve, reject, timer });
      try {
        if (handed !== undefined) this.sendHanded(subject, handed, opts.headers, inbox);
        else this.send(subject, data as Uint8Array, opts.headers, inbox);
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
