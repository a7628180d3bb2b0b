/**
 * One contract, two transports: NATS core (nats-transport.ts) and in-process (memory-transport.ts).
 * The contract tests in test/contract/transport.test.ts run unchanged against both:
 * wildcards (`*`, `>`), request/reply, no-responder error, queue groups, per-subject ordering,
 * payload limit error.
 */
export type Headers = Record<string, string>;

export interface TransportMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: Headers;
  /** Reply subject when the sender is waiting for an answer. */
  readonly reply?: string;
  /** Answer a request (no-op when there is no reply subject). */
  respond(data: Uint8Array, headers?: Headers): void;
}

export interface Subscription {
  readonly subject: string;
  unsubscribe(): void;
  /** Messages delivered to the handler so far. */
  readonly received: number;
}

export interface SubscribeOptions {
  /** Queue group: each message goes to one member of the group. */
  queue?: string;
}

export interface PublishOptions {
  headers?: Headers;
  reply?: string;
}

export interface RequestOptions {
  timeoutMs: number;
  headers?: Headers;
}

/**
 * Handlers are called one message at a time per subscription, in publish order per subject.
 * A handler's returned promise is awaited before the next message of that subscription.
 */
export type MessageHandler = (msg: TransportMessage) => void | Promise<void>;

export interface Transport {
  readonly name: "nats" | "memory";
  /** Largest payload accepted by publish/request, in bytes. */
  readonly maxPayload: number;
  publish(subject: string, data: Uint8Array, opts?: PublishOptions): void;
  subscribe(subject: string, handler: MessageHandler, opts?: SubscribeOptions): Subscription;
  request(subject: string, data: Uint8Array, opts: RequestOptions): Promise<TransportMessage>;
  /** Resolves when everything published so far has reached the server (memory: delivered). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export class NoRespondersError extends Error {
  constructor(readonly subject: string) {
    super(`no responders for ${subject}`);
    this.name = "NoRespondersError";
  }
}

export class RequestTimeoutError extends Error {
  constructor(readonly subject: string, readonly timeoutMs: number) {
    super(`request to ${subject} timed out after ${timeoutMs} ms`);
    this.name = "RequestTimeoutError";
  }
}

export class PayloadTooLargeError extends Error {
  constructor(readonly subject: string, readonly size: number, readonly limit: number) {
    super(`payload of ${size} bytes for ${subject} exceeds the limit of ${limit} bytes`);
    this.name = "PayloadTooLargeError";
  }
}
