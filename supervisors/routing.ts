/**
 * Subjects ⇄ actors over a Transport (NATS or in-process: the same code path).
 *
 * Outgoing: a message of type T to entity E of kind K goes to
 *   `strata.<K>.<partition(E)>.<token(E)>.<verb(T)>` where verb(T) is T itself for `notify`,
 *   `state`, `cmd.*` and `evt.*`, and `cmd.<T>` for any other type; the body is the JSON envelope
 *   (protocols/envelope.ts) and its id also goes in the `Nats-Msg-Id` header. A tell is a
 *   publish; an ask is a transport request whose answer is the JSON reply (empty payload =
 *   undefined) or an error carried in the `Strata-Error*` headers (protocols/errors.ts), rebuilt
 *   into the same class on this side (runtime-errors.ts).
 * Incoming: a host subscribes, per registered kind and per partition it owns, to
 *   `strata.<K>.<p>.*.cmd.>`, `….*.notify` and `….*.state` (not `evt.*`: those are the kind's own
 *   domain events). No queue group: exactly the owner answers. An envelope that fails
 *   validation, or whose kind/type does not match its subject, is dead-lettered and answered with
 *   the InputError. `state` requests are answered with the actor's current state (inspect).
 *
 * A tell refused on arrival (full mailbox, stopping system) is dead-lettered whole with the
 * refusal's code (`mailbox_full`): its sender cannot be told, so it is never dropped silently.
 * On the in-process transport (memory-transport.ts, HandingTransport) envelopes and replies are
 * handed over with a lazily made JSON text instead of being encoded and decoded.
 *
 * Handlers only enqueue into mailboxes and return at once, so one subscription (one partition)
 * never waits for an actor.
 */
import type { Logger } from "pino";
import type { Transport, Subscription, Headers, TransportMessage } from "./transport/transport.ts";
import { canHandOver, type HandedMessage, type HandedPayload, type HandingTransport } from "./transport/memory-transport.ts";
import { NoRespondersError, RequestTimeoutError } from "./transport/transport.ts";
import type { Clock, TimerHandle } from "./clock.ts";
import type { Envelope } from "../protocols/envelope.ts";
import { decodeEnvelope, encodeEnvelope, envelopeSchema } from "../protocols/envelope.ts";
import { validate } from "../protocols/validation.ts";
import { entitySubject, parseSubject, SUBJECT_ROOT, type SubjectParts } from "../protocols/subject.ts";
import { partitionToken } from "../protocols/partition.ts";
import { errorToHeaders, InputError } from "../protocols/errors.ts";
import { AskTimeoutError, NoRouteError, runtimeErrorFromHeaders } from "./runtime-errors.ts";
import type { Delivery } from "./kind-supervisor.ts";

export const MSG_ID_HEADER = "Nats-Msg-Id";
/**
 * Set on tells an actor released after its commit: the receiving host queues them even past the
 * mailbox capacity (as the local path does), so committed work never loses its follow-up.
 */
export const AFTER_COMMIT_HEADER = "Strata-After-Commit";

/** The subject verb a message type travels under. */
export function verbForType(type: string): string {
  if (type === "notify" || type === "state" || type.startsWith("cmd.") || type.startsWith("evt.")) return type;
  return `cmd.${type}`;
}

/** The subject of a message of `type` to an entity. */
export function messageSubject(kind: string, entityId: string, type: string, partitions: number): string {
  return entitySubject(kind, entityId, verbForType(type), partitions);
}

/**
 * A bounded memo (cleared when full): subjects and parsed subjects repeat for every message to
 * the same entity, and encoding them (token escape, FNV hash, grammar checks) costs microseconds.
 */
class Memo<V> {
  private map = new Map<string, V>();
  constructor(private readonly limit: number) {}
  get(key: string, make: () => V): V {
    let value = this.map.get(key);
    if (value === undefined) {
      value = make();
      if (this.map.size >= this.limit) this.map = new Map();
      this.map.set(key, value);
    }
    return value;
  }
}

const ENVELOPE_KIND = /^[a-z][a-z0-9-]*$/;
/** Subjects memoised per (kind, type) before that memo is cleared. */
const SUBJECT_MEMO_LIMIT = 50_000;

/**
 * decodeEnvelope with a fast path that accepts the same envelopes: the plain fields are checked
 * by hand exactly as envelopeSchema does, and a timestamp is accepted without the zod datetime
 * check only when it equals the last one zod accepted (senders stamp many messages per
 * millisecond). Anything else goes through decodeEnvelope, which accepts it or throws the
 * InputError naming the field.
 */
export class EnvelopeDecoder {
  private lastTimestamp = "";

  decode(data: Uint8Array, what: string): Envelope {
    let parsed: unknown;
    try {
      parsed = JSON.parse(decoder.decode(data));
    } catch {
      return decodeEnvelope(data, what); // throws the InputError
    }
    return this.check(parsed, what);
  }

  /**
   * The same checks on an already decoded value (a handed payload of the in-process transport):
   * returns a fresh envelope object (the body is shared) or throws the InputError.
   */
  check(parsed: unknown, what: string): Envelope {
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) {
      const e = parsed as Record<string, unknown>;
      if (
        e.timestamp === this.lastTimestamp &&
        typeof e.id === "string" && e.id.length > 0 &&
        typeof e.kind === "string" && ENVELOPE_KIND.test(e.kind) &&
        typeof e.type === "string" && e.type.length > 0 &&
        typeof e.version === "number" && Number.isSafeInteger(e.version) && e.version > 0 &&
        (e.causationId === null || (typeof e.causationId === "string" && e.causationId.length > 0)) &&
        typeof e.correlationId === "string" && e.correlationId.length > 0
      ) {
        return {
          id: e.id,
          kind: e.kind,
          type: e.type,
          version: e.version,
          causationId: e.causationId as string | null,
          correlationId: e.correlationId,
          timestamp: e.timestamp,
          body: e.body,
        };
      }
    }
    const env = validate(envelopeSchema, parsed, what) as Envelope;
    this.lastTimestamp = env.timestamp;
    return env;
  }
}

/** What the router delivers into (the ActorSystem). */
export interface RouteTarget {
  /** Queue into the local actor; throws MailboxFullError / UnknownKindError. */
  deliverIncoming(kind: string, entityId: string, delivery: Delivery, force: boolean): void;
  /** The actor's current state, for `state` requests. */
  stateOf(kind: string, entityId: string): Promise<unknown>;
  /** A message that could not even be decoded: dead-letter it. */
  rejectIncoming(kind: string, entityId: string | null, source: string, payload: unknown, err: unknown): void;
}

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeReply(value: unknown): Uint8Array {
  return value === undefined ? EMPTY : encoder.encode(JSON.stringify(value));
}

export function decodeReply(data: Uint8Array): unknown {
  return data.length === 0 ? undefined : JSON.parse(decoder.decode(data));
}

/** The reply `undefined` handed over: an empty payload, as encodeReply makes it. */
const HANDED_UNDEFINED: HandedPayload = Object.freeze({ text: "", value: undefined });

/**
 * An envelope handed to the in-process transport: itself, and its JSON text (what NATS would
 * carry, exactly encodeEnvelope's) made only if someone reads the bytes. The body is serialised
 * at once — a body NATS could not carry fails the send here too — and gives the size bound the
 * payload limit is checked against: every other field is a string (at most 6 UTF-8 bytes per
 * unit once JSON-escaped), a number or null.
 */
class HandedEnvelope implements HandedPayload {
  readonly maxBytes: number;
  private json: string | undefined;

  constructor(readonly value: Envelope) {
    const body = JSON.stringify(value.body);
    const e = value;
    const strings = e.id.length + e.kind.length + e.type.length + (e.causationId?.length ?? 4) + e.correlationId.length + e.timestamp.length;
    this.maxBytes = ENVELOPE_JSON_OVERHEAD + 6 * strings + 3 * (body === undefined ? 0 : body.length);
  }

  get text(): string {
    if (this.json === undefined) this.json = JSON.stringify(this.value);
    return this.json;
  }
}

/** Bytes of an envelope's JSON besides its field values: names, quotes, separators, version digits. */
const ENVELOPE_JSON_OVERHEAD = 160;

function handEnvelope(env: Envelope): HandedPayload {
  return new HandedEnvelope(env);
}

export class Router {
  private subs: Subscription[] = [];
  /** kind → type → entity → subject; nested maps, so a hit allocates no key string. */
  private readonly subjects = new Map<string, Map<string, Map<string, string>>>();
  private readonly parsed = new Memo<SubjectParts>(50_000);
  private readonly envelopes = new EnvelopeDecoder();

  /** The in-process transport: envelopes and replies are handed over, not encoded and decoded. */
  private readonly handing: HandingTransport | null;

  constructor(
    private readonly transport: Transport,
    private readonly opts: { partitions: number; clock: Clock; log: Logger },
  ) {
    this.handing = canHandOver(transport) ? transport : null;
  }

  /** Subscribes to the kind's command, notify and state subjects in each owned partition. */
  listen(kind: string, owned: Iterable<number>, target: RouteTarget): void {
    for (const p of owned) {
      const prefix = `${SUBJECT_ROOT}.${kind}.${partitionToken(p, this.opts.partitions)}.*`;
      this.subs.push(this.transport.subscribe(`${prefix}.cmd.>`, (msg) => this.incoming(kind, msg, target)));
      this.subs.push(this.transport.subscribe(`${prefix}.notify`, (msg) => this.incoming(kind, msg, target)));
      this.subs.push(this.transport.subscribe(`${prefix}.state`, (msg) => this.stateRequest(kind, msg, target)));
    }
  }

  private subjectOf(kind: string, entityId: string, type: string): string {
    let byType = this.subjects.get(kind);
    if (byType === undefined) this.subjects.set(kind, (byType = new Map()));
    let byEntity = byType.get(type);
    if (byEntity === undefined) byType.set(type, (byEntity = new Map()));
    let subject = byEntity.get(entityId);
    if (subject === undefined) {
      subject = messageSubject(kind, entityId, type, this.opts.partitions);
      if (byEntity.size >= SUBJECT_MEMO_LIMIT) byEntity.clear();
      byEntity.set(entityId, subject);
    }
    return subject;
  }

  /** Fire and forget; `afterCommit` marks a tell released by an actor's commit. */
  send(entityId: string, env: Envelope, afterCommit = false): void {
    const subject = this.subjectOf(env.kind, entityId, env.type);
    const headers: Headers = afterCommit ? { [MSG_ID_HEADER]: env.id, [AFTER_COMMIT_HEADER]: "1" } : { [MSG_ID_HEADER]: env.id };
    if (this.handing) this.handing.publishHanded(subject, handEnvelope(env), headers);
    else this.transport.publish(subject, encodeEnvelope(env), { headers });
  }

  /** Request/reply with a timeout on the injected clock (and the same on the transport). */
  request(entityId: string, env: Envelope, timeoutMs: number): Promise<unknown> {
    const subject = this.subjectOf(env.kind, entityId, env.type);
    return new Promise((resolve, reject) => {
      // On the in-process transport with the same clock, its own request timer is this one: one timer, not two.
      const ownTimer = !(this.handing && this.handing.clock === this.opts.clock);
      const pending = new PendingRequest(this.opts.clock, subject, env, entityId, timeoutMs, resolve, reject, ownTimer);
      const requestOpts = { timeoutMs, headers: { [MSG_ID_HEADER]: env.id } };
      let sent: Promise<TransportMessage>;
      try {
        sent = this.handing ? this.handing.requestHanded(subject, handEnvelope(env), requestOpts) : this.transport.request(subject, encodeEnvelope(env), requestOpts);
      } catch (err) {
        pending.failed(err);
        return;
      }
      // Anonymous arrows: class-field arrows would cost a defineProperty each under tsx's keepNames.
      sent.then(
        (msg) => pending.answered(msg),
        (err) => pending.failed(err),
      );
    });
  }

  /** Publishes a domain event `strata.<kind>.<p>.<id>.evt.<name>`. */
  publishEvent(kind: string, entityId: string, env: Envelope): void {
    const subject = entitySubject(kind, entityId, env.type, this.opts.partitions);
    this.transport.publish(subject, encodeEnvelope(env), { headers: { [MSG_ID_HEADER]: env.id } });
  }

  close(): void {
    for (const s of this.subs) s.unsubscribe();
    this.subs = [];
  }

  private incoming(kind: string, msg: TransportMessage, target: RouteTarget): void {
    const source = `nats:${msg.subject}`;
    let entityId: string | null = null;
    let env: Envelope;
    try {
      const subject = msg.subject;
      const parts = this.parsed.get(subject, () => parseSubject(subject));
      entityId = parts.entityId;
      const handed = (msg as Partial<HandedMessage>).handed;
      env = handed !== undefined ? this.envelopes.check(handed.value, `${kind} message on ${msg.subject}`) : this.envelopes.decode(msg.data, `${kind} message on ${msg.subject}`);
      if (env.kind !== kind) throw new InputError(`${kind} message on ${msg.subject}: envelope kind is ${JSON.stringify(env.kind)}`, { code: "wrong_kind" });
      if (verbForType(env.type) !== parts.verb) {
        throw new InputError(`${kind} message on ${msg.subject}: envelope type ${JSON.stringify(env.type)} does not match verb ${parts.verb}`, { code: "wrong_type" });
      }
    } catch (err) {
      let payload: unknown;
      try {
        payload = JSON.parse(decoder.decode(msg.data));
      } catch {
        payload = decoder.decode(msg.data);
      }
      target.rejectIncoming(kind, entityId, source, payload, err);
      this.respondError(msg, err);
      return;
    }
    const reply = msg.reply ? new TransportReply(this, msg, env.type) : undefined;
    try {
      target.deliverIncoming(kind, entityId, { env, source, reply }, !reply && msg.headers[AFTER_COMMIT_HEADER] === "1");
    } catch (err) {
      if (reply) reply.reject(err);
      else {
        // The sender of a tell cannot be told: nothing is dropped silently. The refused envelope
        // is dead-lettered whole (code `mailbox_full` for a full mailbox: kept, listed, replayable)
        // and the refusal is counted in stats().rejected by the supervisor.
        this.opts.log.warn({ kind, entityId, type: env.type, err: (err as Error).message }, "tell refused on arrival: dead-lettered");
        target.rejectIncoming(kind, entityId, source, env, err);
      }
    }
  }

  private stateRequest(kind: string, msg: TransportMessage, target: RouteTarget): void {
    let entityId: string;
    try {
      entityId = parseSubject(msg.subject).entityId;
    } catch (err) {
      this.respondError(msg, new InputError((err as Error).message, { code: "bad_subject" }));
      return;
    }
    target.stateOf(kind, entityId).then(
      (state) => {
        try {
          this.respond(msg, encodeReply(state));
        } catch (err) {
          this.respondError(msg, err);
        }
      },
      (err) => this.respondError(msg, err),
    );
  }

  respond(msg: TransportMessage, data: Uint8Array, headers?: Headers): void {
    if (!msg.reply) return;
    try {
      msg.respond(data, headers);
    } catch (err) {
      this.opts.log.warn({ subject: msg.subject, err: (err as Error).message }, "reply could not be sent");
    }
  }

  respondHanded(msg: HandedMessage, payload: HandedPayload): void {
    if (!msg.reply) return;
    try {
      msg.respondHanded(payload);
    } catch (err) {
      this.opts.log.warn({ subject: msg.subject, err: (err as Error).message }, "reply could not be sent");
    }
  }

  respondError(msg: TransportMessage, err: unknown): void {
    this.respond(msg, EMPTY, errorToHeaders(err));
  }
}

/**
 * One outgoing request: settles once, with the reply, the rebuilt error, or AskTimeoutError on
 * the injected clock (a class: no closures created per request).
 */
class PendingRequest {
  private done = false;
  private readonly timer: TimerHandle | null;

  constructor(
    private readonly clock: Clock,
    private readonly subject: string,
    private readonly env: Envelope,
    private readonly entityId: string,
    private readonly timeoutMs: number,
    private readonly resolve: (value: unknown) => void,
    private readonly reject: (err: unknown) => void,
    ownTimer: boolean,
  ) {
    this.timer = ownTimer ? clock.setTimeout(() => this.timedOut(), timeoutMs) : null;
  }

  private finish(): boolean {
    if (this.done) return false;
    this.done = true;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    return true;
  }

  private timedOut(): void {
    if (this.done) return;
    this.done = true;
    this.reject(AskTimeoutError.of(this.env.kind, this.entityId, this.env.type, this.timeoutMs));
  }

  answered(msg: TransportMessage): void {
    if (!this.finish()) return;
    const err = runtimeErrorFromHeaders(msg.headers);
    if (err) {
      this.reject(err);
      return;
    }
    const handed = (msg as Partial<HandedMessage>).handed;
    if (handed !== undefined) {
      this.resolve(handed.value);
      return;
    }
    try {
      this.resolve(decodeReply(msg.data));
    } catch (parseErr) {
      this.reject(new InputError(`reply from ${this.subject} is not JSON: ${(parseErr as Error).message}`, { code: "bad_reply" }));
    }
  }

  failed(err: unknown): void {
    if (!this.finish()) return;
    if (err instanceof RequestTimeoutError) this.reject(AskTimeoutError.of(this.env.kind, this.entityId, this.env.type, this.timeoutMs));
    else if (err instanceof NoRespondersError) this.reject(new NoRouteError(this.subject, err));
    else this.reject(err);
  }
}

/** Answers one request with the actor's reply or error (a class: no closures per message). */
class TransportReply {
  constructor(
    private readonly router: Router,
    private readonly msg: TransportMessage,
    private readonly type: string,
  ) {}

  resolve(value: unknown): void {
    const msg = this.msg as Partial<HandedMessage>;
    if (msg.respondHanded !== undefined) {
      // In-process: the reply value is handed over; the JSON text is still made, so a reply that
      // could not cross NATS fails here the same way, and `data` stays what NATS would carry.
      let text: string | undefined;
      try {
        text = value === undefined ? undefined : JSON.stringify(value);
      } catch (err) {
        this.router.respondError(this.msg, new InputError(`reply of ${this.type} is not JSON-serialisable: ${(err as Error).message}`, { code: "bad_reply" }));
        return;
      }
      this.router.respondHanded(this.msg as HandedMessage, text === undefined ? HANDED_UNDEFINED : { text, value });
      return;
    }
    let data: Uint8Array;
    try {
      data = encodeReply(value);
    } catch (err) {
      this.router.respondError(this.msg, new InputError(`reply of ${this.type} is not JSON-serialisable: ${(err as Error).message}`, { code: "bad_reply" }));
      return;
    }
    this.router.respond(this.msg, data);
  }

  reject(err: unknown): void {
    this.router.respondError(this.msg, err);
  }
}
