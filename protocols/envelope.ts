/**
 * The message envelope carried by every Strata message (a JSON body on NATS).
 *
 * id            — unique id, used for dedupe; also sent as the `Nats-Msg-Id` header
 * kind          — entity kind the message is about (`vault-term`, …)
 * type          — message name (`notify`, `cmd.restart`, `evt.term-updated`, …)
 * version       — schema version of `body` for this type (integer, starts at 1)
 * causationId   — id of the message that caused this one (null for an ingress origin)
 * correlationId — id of the first message of the chain (equals id for an origin)
 * timestamp     — ISO-8601 UTC time the message was created
 * body          — the payload, validated by the schema registered for (kind, type, version)
 */
import { z } from "zod";
import { validate } from "./validation.ts";

export interface Envelope<B = unknown> {
  id: string;
  kind: string;
  type: string;
  version: number;
  causationId: string | null;
  correlationId: string;
  timestamp: string;
  body: B;
}

export const envelopeSchema = z.object({
  id: z.string().min(1),
  kind: z.string().regex(/^[a-z][a-z0-9-]*$/, "expected a lower-case kind name"),
  type: z.string().min(1),
  version: z.number().int().positive(),
  causationId: z.string().min(1).nullable(),
  correlationId: z.string().min(1),
  timestamp: z.iso.datetime(),
  body: z.unknown(),
});

export function newMessageId(): string {
  return crypto.randomUUID();
}

export function makeEnvelope<B>(
  kind: string,
  type: string,
  body: B,
  opts: {
    version?: number;
    cause?: Pick<Envelope, "id" | "correlationId">;
    id?: string;
    now?: number;
    /** The ISO timestamp already formatted (a caller stamping many envelopes per millisecond caches it). */
    timestamp?: string;
  } = {},
): Envelope<B> {
  const id = opts.id ?? newMessageId();
  return {
    id,
    kind,
    type,
    version: opts.version ?? 1,
    causationId: opts.cause ? opts.cause.id : null,
    correlationId: opts.cause ? opts.cause.correlationId : id,
    timestamp: opts.timestamp ?? new Date(opts.now ?? Date.now()).toISOString(),
    body,
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeEnvelope(env: Envelope): Uint8Array {
  return encoder.encode(JSON.stringify(env));
}

/** Decode and validate an envelope; an InputError names the failing field. */
export function decodeEnvelope(data: Uint8Array, what = "envelope"): Envelope {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(data));
  } catch (err) {
    return validate(envelopeSchema, { notJson: (err as Error).message }, `${what} (not JSON)`) as Envelope;
  }
  return validate(envelopeSchema, parsed, what) as Envelope;
}
