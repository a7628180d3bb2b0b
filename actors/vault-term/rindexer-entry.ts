/**
 * rindexer's Redis stream entry → normalised messages.
 *
 * An entry's fields hold the message as a JSON string in `event_data` (or `data`, or `payload`):
 *   {event_name, event_signature_hash, event_data: object | object[], network}
 * An array yields one message per element with id `{redisId}-{index}`; an object keeps `{redisId}`.
 * Each element is validated on its own: one bad element is one dead letter, the others go on.
 */
import { z } from "zod";
import { InputError, errorMessage } from "../../protocols/errors.ts";
import { parseJson, validate } from "../../protocols/validation.ts";
import { normalizeEvent, type VaultEvent } from "./events.ts";

export const PAYLOAD_FIELDS = ["event_data", "data", "payload"] as const;

const messageSchema = z.object({
  event_name: z.string().min(1),
  event_signature_hash: z.string().optional(),
  event_data: z.union([z.record(z.string(), z.unknown()), z.array(z.unknown())]),
  network: z.string().optional(),
});

/** One message out of an entry: either a normalised event or the error that rejected it. */
export type ParsedMessage =
  | { ok: true; id: string; event: VaultEvent }
  | { ok: false; id: string; error: InputError; payload: unknown };

/** Fields of a Redis entry as ioredis returns them: [name, value, name, value, …]. */
export function fieldsToRecord(fields: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i]] = fields[i + 1];
  return out;
}

function asInputError(err: unknown): InputError {
  return err instanceof InputError ? err : new InputError(errorMessage(err), { cause: err });
}

type RindexerMessage = z.output<typeof messageSchema>;

/** What messageSchema returns for a message it accepts, or null (the schema then gives the error). */
function wellFormedMessage(message: unknown): RindexerMessage | null {
  if (typeof message !== "object" || message === null || Array.isArray(message)) return null;
  const m = message as Record<string, unknown>;
  const { event_name, event_signature_hash, event_data, network } = m;
  if (typeof event_name !== "string" || event_name.length === 0) return null;
  if (event_signature_hash !== undefined && typeof event_signature_hash !== "string") return null;
  if (network !== undefined && typeof network !== "string") return null;
  if (typeof event_data !== "object" || event_data === null) return null;
  const out: RindexerMessage = { event_name } as RindexerMessage;
  if (event_signature_hash !== undefined) out.event_signature_hash = event_signature_hash;
  out.event_data = event_data as RindexerMessage["event_data"];
  if (network !== undefined) out.network = network;
  return out;
}

/** Parse one rindexer message object (already JSON-decoded). */
export function parseRindexerMessage(id: string, message: unknown): ParsedMessage[] {
  let msg: RindexerMessage;
  try {
    msg = wellFormedMessage(message) ?? validate(messageSchema, message, `vault-term message ${id}`);
  } catch (err) {
    return [{ ok: false, id, error: asInputError(err), payload: message }];
  }
  const elements = Array.isArray(msg.event_data) ? msg.event_data : [msg.event_data];
  const many = Array.isArray(msg.event_data);
  return elements.map((data, index): ParsedMessage => {
    const elementId = many ? `${id}-${index}` : id;
    try {
      return { ok: true, id: elementId, event: normalizeEvent(msg.event_name, data, `vault-term ${elementId}`) };
    } catch (err) {
      return { ok: false, id: elementId, error: asInputError(err), payload: { ...msg, event_data: data } };
    }
  });
}

/** Parse one Redis stream entry (its field list). */
export function parseRedisEntry(redisId: string, fields: readonly string[] | Record<string, string>): ParsedMessage[] {
  const record = Array.isArray(fields) ? fieldsToRecord(fields as readonly string[]) : (fields as Record<string, string>);
  const field = PAYLOAD_FIELDS.find((name) => record[name] !== undefined);
  if (!field) {
    return [{ ok: false, id: redisId, error: new InputError(`vault-term entry ${redisId}: no event_data, data or payload field`, { code: "validation" }), payload: record }];
  }
  let message: unknown;
  try {
    message = parseJson(record[field], `vault-term entry ${redisId} field ${field}`);
  } catch (err) {
    return [{ ok: false, id: redisId, error: asInputError(err), payload: record }];
  }
  return parseRindexerMessage(redisId, message);
}
