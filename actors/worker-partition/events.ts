/**
 * OpenPool event envelopes (go-livepeer `events/tracker.go`) → validated, normalised events.
 *
 * Envelope: `{DT, EventType, ID, NodeType, Payload, Region, Version}` (domain A1.1).
 * Normalisation (domain decisions 2, 3, 5, 8):
 *   - wei amounts (`fees`, `pricePerComputeUnit`) are decimal strings of integers (bigint-safe);
 *     a negative or fractional amount is an InputError naming the field;
 *   - `responseTimeMs`: transcode sends ms, AI sends Go Duration nanoseconds → ms; the raw
 *     value is kept in `responseTimeRaw`;
 *   - transcode `realTimeRatio` = duration / responseTime as a decimal when both are > 0,
 *     else the producer's integer (null when neither is known);
 *   - `dtMs` is the event time (epoch ms) used for every time field downstream.
 * Every failure is an InputError (ValidationError) whose message names the event id and field path.
 */
import { z } from "zod";
import { getAddress } from "ethers";
import { validate } from "../../protocols/validation.ts";
import { InputError } from "../../protocols/errors.ts";
import { isActivePartition, partitionKey, type PartitionId } from "./partitions.ts";

export const EVENT_TYPES = {
  reset: "orchestrator-reset",
  connected: "worker-connected",
  disconnected: "worker-disconnected",
  received: "job-received",
  processed: "job-processed",
} as const;

/** Known event types the pipeline keeps in the journal but does not apply. */
export const IGNORED_EVENT_TYPES = ["ticket-redeemed", "gateway-reset", "node-reset"] as const;

interface Base {
  /** The producer's `ID` (UUID): the journal's natural key. */
  id: string;
  partitionId: PartitionId;
  /** Event time, epoch ms (from `DT`). */
  dtMs: number;
}
export type ResetEvent = Base & { type: "orchestrator-reset" };
export type ConnectionEvent = Base & { type: "worker-connected" | "worker-disconnected"; ethAddress: string; connection: string };
export type JobReceivedEvent = Base & { type: "job-received"; ethAddress: string; requestID: string; pipeline: string; modelID: string };
export interface JobMetrics {
  computeUnits: number;
  pricePerComputeUnit: string;
  /** wei, decimal string of a non-negative integer. */
  fees: string;
  responseTimeMs: number;
  responseTimeRaw: number;
}
export type TranscodeJobEvent = Base &
  JobMetrics & { type: "job-processed"; nodeType: "transcode"; ethAddress: string; durationMs: number | null; realTimeRatio: number | null; producerRealTimeRatio: number | null };
export type AiJobEvent = Base &
  JobMetrics & { type: "job-processed"; nodeType: "ai"; ethAddress: string | null; requestID: string; pipeline: string; modelID: string };
export type IgnoredEvent = Base & { type: "ignored"; eventType: string };
export type WorkerEvent = ResetEvent | ConnectionEvent | JobReceivedEvent | TranscodeJobEvent | AiJobEvent | IgnoredEvent;

const addressCache = new Map<string, string>();
/** EIP-55 form of a 0x address (cached: checksumming costs a keccak). */
export function checksumAddress(text: string): string {
  let out = addressCache.get(text);
  if (out === undefined) {
    out = getAddress(text);
    if (addressCache.size > 100_000) addressCache.clear();
    addressCache.set(text, out);
  }
  return out;
}

const ethAddress = z.unknown().transform((v, ctx) => {
  if (typeof v !== "string") {
    ctx.addIssue({ code: "custom", message: v === undefined ? "required" : `expected a 0x address, got ${typeof v}` });
    return z.NEVER;
  }
  if (!/^0x[0-9a-fA-F]{40}$/.test(v)) {
    ctx.addIssue({ code: "custom", message: `expected a 0x address of 40 hex digits, got ${JSON.stringify(v.slice(0, 50))}` });
    return z.NEVER;
  }
  try {
    return checksumAddress(v);
  } catch {
    ctx.addIssue({ code: "custom", message: `bad EIP-55 checksum in ${v}` });
    return z.NEVER;
  }
});

const text = z.unknown().transform((v, ctx) => {
  if (typeof v !== "string" || v === "") {
    ctx.addIssue({ code: "custom", message: v === undefined ? "required" : `expected a non-empty string, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return v;
});

/** A non-negative integer given as a JSON number or (for large values) a decimal string → decimal string. */
const uintText = z.unknown().transform((v, ctx) => {
  if (v === undefined || v === null) {
    ctx.addIssue({ code: "custom", message: "required" });
    return z.NEVER;
  }
  let s: string | undefined;
  if (typeof v === "number" && Number.isSafeInteger(v)) s = String(v);
  else if (typeof v === "string" && /^-?\d+$/.test(v)) s = v;
  if (s === undefined) {
    ctx.addIssue({ code: "custom", message: `expected an integer, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  if (s.startsWith("-")) {
    ctx.addIssue({ code: "custom", message: `must not be negative, got ${s}` });
    return z.NEVER;
  }
  return s.replace(/^0+(?=\d)/, "");
});
const uintNumber = uintText.transform((s, ctx) => {
  const n = Number(s);
  if (!Number.isSafeInteger(n)) {
    ctx.addIssue({ code: "custom", message: `too large: ${s}` });
    return z.NEVER;
  }
  return n;
});

const envelopeSchema = z.object({
  ID: text,
  EventType: text,
  NodeType: text,
  Region: text,
  DT: z.iso.datetime({ offset: true, message: "expected an RFC 3339 time such as 2025-02-27T12:00:05Z" }),
  Version: z.literal(1, { message: "expected 1 (the only version)" }),
  Payload: z.record(z.string(), z.unknown(), { message: "expected an object" }),
});

const connectionPayload = z.object({ ethAddress, connection: text });
const receivedPayload = z.object({ ethAddress, requestID: text, pipeline: text, modelID: text });
const jobCommon = { computeUnits: uintNumber, pricePerComputeUnit: uintText, fees: uintText, responseTime: uintNumber };
const transcodePayload = z.object({
  ...jobCommon,
  ethAddress,
  duration: z.unknown().optional(),
  realTimeRatio: z.unknown().optional(),
});
const aiPayload = z.object({ ...jobCommon, ethAddress: ethAddress.optional(), requestID: text, pipeline: text, modelID: text });

function optionalUint(payload: Record<string, unknown>, field: string, what: string): number | null {
  const v = payload[field];
  if (v === undefined || v === null) return null;
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return v;
  throw new InputError(`${what}: Payload.${field}: expected a non-negative integer, got ${JSON.stringify(v)}`, { code: "validation" });
}

/**
 * Validate one envelope from a file and normalise it. `expected` is the partition the file was
 * listed under; an event of another partition, or of an inactive one, is an InputError.
 */
export function parseWorkerEvent(raw: unknown, expected?: string): WorkerEvent {
  return fastParseWorkerEvent(raw, expected) ?? parseWithSchemas(raw, expected);
}

/** The schema path: every check, and the error messages naming the field path. */
export function parseWithSchemas(raw: unknown, expected?: string): WorkerEvent {
  const env = validate(envelopeSchema, raw, "openpool event");
  const what = `openpool event ${env.ID} (${env.EventType})`;
  const pid = partitionKey(env.NodeType, env.Region);
  if (!isActivePartition(pid)) {
    throw new InputError(`${what}: NodeType|Region ${pid} is not an active partition`, { code: "wrong_partition" });
  }
  if (expected !== undefined && pid !== expected) {
    throw new InputError(`${what}: belongs to partition ${pid}, not ${expected}`, { code: "wrong_partition" });
  }
  const base: Base = { id: env.ID, partitionId: pid, dtMs: Date.parse(env.DT) };
  const nodeType = env.NodeType as "ai" | "transcode";
  switch (env.EventType) {
    case EVENT_TYPES.reset:
      return { ...base, type: EVENT_TYPES.reset };
    case EVENT_TYPES.connected:
    case EVENT_TYPES.disconnected: {
      const p = validate(connectionPayload, env.Payload, `${what} Payload`);
      return { ...base, type: env.EventType, ethAddress: p.ethAddress, connection: p.connection };
    }
    case EVENT_TYPES.received: {
      if (nodeType !== "ai") throw new InputError(`${what}: job-received exists only for ai nodes, got NodeType ${nodeType}`, { code: "validation" });
      const p = validate(receivedPayload, env.Payload, `${what} Payload`);
      return { ...base, type: EVENT_TYPES.received, ...p };
    }
    case EVENT_TYPES.processed: {
      if (nodeType === "transcode") {
        const p = validate(transcodePayload, env.Payload, `${what} Payload`);
        const durationMs = optionalUint(env.Payload, "duration", what);
        const producerRealTimeRatio = optionalUint(env.Payload, "realTimeRatio", what);
        const realTimeRatio = durationMs !== null && durationMs > 0 && p.responseTime > 0 ? durationMs / p.responseTime : producerRealTimeRatio;
        return {
          ...base,
          type: EVENT_TYPES.processed,
          nodeType: "transcode",
          ethAddress: p.ethAddress,
          computeUnits: p.computeUnits,
          pricePerComputeUnit: p.pricePerComputeUnit,
          fees: p.fees,
          responseTimeMs: p.responseTime,
          responseTimeRaw: p.responseTime,
          durationMs,
          realTimeRatio,
          producerRealTimeRatio,
        };
      }
      const p = validate(aiPayload, env.Payload, `${what} Payload`);
      return {
        ...base,
        type: EVENT_TYPES.processed,
        nodeType: "ai",
        ethAddress: p.ethAddress ?? null,
        requestID: p.requestID,
        pipeline: p.pipeline,
        modelID: p.modelID,
        computeUnits: p.computeUnits,
        pricePerComputeUnit: p.pricePerComputeUnit,
        fees: p.fees,
        responseTimeMs: p.responseTime / 1_000_000,
        responseTimeRaw: p.responseTime,
      };
    }
    default:
      if ((IGNORED_EVENT_TYPES as readonly string[]).includes(env.EventType)) return { ...base, type: "ignored", eventType: env.EventType };
      throw new InputError(`${what}: unknown EventType ${JSON.stringify(env.EventType)}`, { code: "validation" });
  }
}

// ——— fast path ———
// The common, well-formed event is checked by hand (the schemas cost ~50 µs and much garbage per
// event). Each check here is at least as strict as the schema's; anything unusual (a field
// missing or of another type, a string-encoded number, an unknown type) returns undefined and
// goes through the schemas, which accept it or throw the precise error.

const DT_FAST = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
function str(v: unknown): v is string {
  return typeof v === "string" && v !== "";
}
function uint(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}
function address(v: unknown): string | undefined {
  if (typeof v !== "string" || !ADDRESS.test(v)) return undefined;
  try {
    return checksumAddress(v);
  } catch {
    return undefined;
  }
}

/**
 * The fast path alone: the normalised event when `raw` is a well-formed common event, else
 * undefined (then parseWithSchemas gives the event or the precise error). Every number it
 * accepts is a safe integer, so a record parsed by plain JSON.parse gives the same event here as
 * one whose long integers were kept exact (json-text.ts): an integer above 2^53 − 1 fails it.
 */
export function fastParseWorkerEvent(raw: unknown, expected?: string): WorkerEvent | undefined {
  if (!isRecord(raw)) return undefined;
  const { ID, EventType, NodeType, Region, DT, Version, Payload } = raw;
  if (!str(ID) || !str(EventType) || !str(NodeType) || !str(Region) || Version !== 1 || !isRecord(Payload)) return undefined;
  if (typeof DT !== "string" || !DT_FAST.test(DT)) return undefined;
  const dtMs = Date.parse(DT);
  if (Number.isNaN(dtMs)) return undefined;
  const pid = `${NodeType}|${Region}`;
  if (!isActivePartition(pid) || (expected !== undefined && pid !== expected)) return undefined;
  const p = Payload;
  // Object literals, never `{ ...base, … }`: V8 builds a spread followed by more properties
  // through a slow path (measured ~20 µs per event on Node 20, more than the rest of the
  // validation), and the objects it makes are slower to serialise and read later. The keys
  // are in the order the schema path produces (id, partitionId, dtMs, type, …).
  switch (EventType) {
    case EVENT_TYPES.reset:
      return { id: ID, partitionId: pid, dtMs, type: EVENT_TYPES.reset };
    case EVENT_TYPES.connected:
    case EVENT_TYPES.disconnected: {
      const a = address(p.ethAddress);
      if (a === undefined || !str(p.connection)) return undefined;
      return { id: ID, partitionId: pid, dtMs, type: EventType, ethAddress: a, connection: p.connection };
    }
    case EVENT_TYPES.received: {
      const a = address(p.ethAddress);
      if (NodeType !== "ai" || a === undefined || !str(p.requestID) || !str(p.pipeline) || !str(p.modelID)) return undefined;
      return { id: ID, partitionId: pid, dtMs, type: EVENT_TYPES.received, ethAddress: a, requestID: p.requestID, pipeline: p.pipeline, modelID: p.modelID };
    }
    case EVENT_TYPES.processed: {
      if (!uint(p.computeUnits) || !uint(p.pricePerComputeUnit) || !uint(p.fees) || !uint(p.responseTime)) return undefined;
      if (NodeType === "transcode") {
        const a = address(p.ethAddress);
        if (a === undefined) return undefined;
        const durationMs = p.duration === undefined || p.duration === null ? null : uint(p.duration) ? p.duration : undefined;
        const producer = p.realTimeRatio === undefined || p.realTimeRatio === null ? null : uint(p.realTimeRatio) ? p.realTimeRatio : undefined;
        if (durationMs === undefined || producer === undefined) return undefined;
        return {
          id: ID,
          partitionId: pid,
          dtMs,
          type: EVENT_TYPES.processed,
          nodeType: "transcode",
          ethAddress: a,
          computeUnits: p.computeUnits,
          pricePerComputeUnit: String(p.pricePerComputeUnit),
          fees: String(p.fees),
          responseTimeMs: p.responseTime,
          responseTimeRaw: p.responseTime,
          durationMs,
          realTimeRatio: durationMs !== null && durationMs > 0 && p.responseTime > 0 ? durationMs / p.responseTime : producer,
          producerRealTimeRatio: producer,
        };
      }
      if (!str(p.requestID) || !str(p.pipeline) || !str(p.modelID)) return undefined;
      let a: string | null = null;
      if (p.ethAddress !== undefined) {
        const checked = address(p.ethAddress);
        if (checked === undefined) return undefined;
        a = checked;
      }
      return {
        id: ID,
        partitionId: pid,
        dtMs,
        type: EVENT_TYPES.processed,
        nodeType: "ai",
        ethAddress: a,
        requestID: p.requestID,
        pipeline: p.pipeline,
        modelID: p.modelID,
        computeUnits: p.computeUnits,
        pricePerComputeUnit: String(p.pricePerComputeUnit),
        fees: String(p.fees),
        responseTimeMs: p.responseTime / 1_000_000,
        responseTimeRaw: p.responseTime,
      };
    }
    default:
      return undefined;
  }
}
