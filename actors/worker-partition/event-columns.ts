/**
 * Validated events (events.ts) as columns, for crossing from the parse worker thread to the main
 * thread (prepared-event-file.ts). The main thread needs the events as objects (the actor applies
 * them); rebuilding them from columns — numbers in Float64Arrays, one object literal per event —
 * costs about a quarter of JSON.parse of their journal text, which was the main thread's largest
 * ingest cost once parsing moved to the worker (docs/worker-partition.md, Stop 9).
 *
 * The rebuilt events hold the same values as the journal text parsed back (every field is a
 * string, a finite number or null; the JSON of a finite double reads back exactly), so the actor
 * applies live what replay reads (rule 5; tested on every event type). An event whose fields are
 * not exactly those listed here for its type (a field added to events.ts and not here; counted on
 * the first event of each type in a file, events of one type sharing their shape) makes
 * `encodeEventColumns` return null: the file's events then cross as JSON text. The test
 * "every event type rebuilds…" (parse-worker.test.ts) holds the columns to events.ts.
 */
import { EVENT_TYPES, type WorkerEvent } from "./events.ts";
import type { PartitionId } from "./partitions.ts";

/** Type codes (position in the type column). */
const CODE = { reset: 0, connected: 1, disconnected: 2, received: 3, transcodeJob: 4, aiJob: 5, ignored: 6 } as const;
/** Fields of an event of each code (Object.keys length): what the rebuilt literal holds. */
const FIELD_COUNT = [4, 6, 6, 8, 14, 14, 5] as const;

export interface EventColumns {
  /** Every event's partitionId (one per file). */
  partitionId: PartitionId;
  /** CODE per event. */
  code: Uint8Array;
  id: string[];
  dtMs: Float64Array;
  /** Index into `addresses`, −1 for null (ethAddress of connection, received and job events). */
  address: Int32Array;
  addresses: string[];
  /**
   * The events' other texts, in event order, only those an event has: connection (connection
   * events); requestID, pipeline, modelID (received, AI jobs); eventType (ignored); then, for jobs,
   * pricePerComputeUnit and fees. No placeholder per event: every element crosses the thread.
   */
  texts: string[];
  /** Jobs: computeUnits, responseTimeMs, responseTimeRaw (0 elsewhere). */
  computeUnits: Float64Array;
  responseTimeMs: Float64Array;
  responseTimeRaw: Float64Array;
  /** Transcode jobs; NaN for null. */
  durationMs: Float64Array;
  realTimeRatio: Float64Array;
  producerRealTimeRatio: Float64Array;
}

// `+ 0` turns −0 into 0, as the journal's JSON does ("0"): a −0 read from a file reads back as 0.
const orNaN = (v: number | null): number => (v === null ? Number.NaN : v + 0);
const orNull = (v: number): number | null => (Number.isNaN(v) ? null : v);

/** The events as columns, or null when one is not of the shapes above (then send their JSON). */
export function encodeEventColumns(events: readonly WorkerEvent[]): EventColumns | null {
  const n = events.length;
  if (n === 0) return null;
  const partitionId = events[0].partitionId;
  const texts: string[] = [];
  const c: EventColumns = {
    partitionId,
    code: new Uint8Array(n),
    id: new Array(n),
    dtMs: new Float64Array(n),
    address: new Int32Array(n).fill(-1),
    addresses: [],
    texts,
    computeUnits: new Float64Array(n),
    responseTimeMs: new Float64Array(n),
    responseTimeRaw: new Float64Array(n),
    durationMs: new Float64Array(n),
    realTimeRatio: new Float64Array(n),
    producerRealTimeRatio: new Float64Array(n),
  };
  const addressIndex = new Map<string, number>();
  const address = (a: string | null): number => {
    if (a === null) return -1;
    let i = addressIndex.get(a);
    if (i === undefined) {
      i = c.addresses.length;
      c.addresses.push(a);
      addressIndex.set(a, i);
    }
    return i;
  };
  // The fields of the first event of each code are counted (events of one code share a shape).
  const shapeChecked = new Uint8Array(FIELD_COUNT.length);
  for (let i = 0; i < n; i++) {
    const ev = events[i];
    if (ev.partitionId !== partitionId) return null;
    let code: number;
    switch (ev.type) {
      case EVENT_TYPES.reset:
        code = CODE.reset;
        break;
      case EVENT_TYPES.connected:
      case EVENT_TYPES.disconnected:
        code = ev.type === EVENT_TYPES.connected ? CODE.connected : CODE.disconnected;
        c.address[i] = address(ev.ethAddress);
        texts.push(ev.connection);
        break;
      case EVENT_TYPES.received:
        code = CODE.received;
        c.address[i] = address(ev.ethAddress);
        texts.push(ev.requestID, ev.pipeline, ev.modelID);
        break;
      case EVENT_TYPES.processed:
        c.address[i] = address(ev.ethAddress);
        if (ev.nodeType === "transcode") {
          code = CODE.transcodeJob;
          c.durationMs[i] = orNaN(ev.durationMs);
          c.realTimeRatio[i] = orNaN(ev.realTimeRatio);
          c.producerRealTimeRatio[i] = orNaN(ev.producerRealTimeRatio);
        } else {
          code = CODE.aiJob;
          texts.push(ev.requestID, ev.pipeline, ev.modelID);
        }
        texts.push(ev.pricePerComputeUnit, ev.fees);
        c.computeUnits[i] = ev.computeUnits + 0;
        c.responseTimeMs[i] = ev.responseTimeMs + 0;
        c.responseTimeRaw[i] = ev.responseTimeRaw + 0;
        break;
      case "ignored":
        code = CODE.ignored;
        texts.push(ev.eventType);
        break;
      default:
        return null;
    }
    if (shapeChecked[code] === 0) {
      if (Object.keys(ev).length !== FIELD_COUNT[code]) return null;
      shapeChecked[code] = 1;
    }
    c.code[i] = code;
    c.id[i] = ev.id;
    c.dtMs[i] = ev.dtMs + 0;
  }
  return c;
}

/** The events back, as object literals with the fields (and field order) events.ts gives them. */
export function decodeEventColumns(c: EventColumns): WorkerEvent[] {
  const n = c.code.length;
  const out: WorkerEvent[] = new Array(n);
  const partitionId = c.partitionId;
  const texts = c.texts;
  let t = 0; // next of `texts`
  const addr = (i: number): string | null => (c.address[i] < 0 ? null : c.addresses[c.address[i]]);
  for (let i = 0; i < n; i++) {
    const id = c.id[i];
    const dtMs = c.dtMs[i];
    switch (c.code[i]) {
      case CODE.reset:
        out[i] = { id, partitionId, dtMs, type: EVENT_TYPES.reset };
        break;
      case CODE.connected:
      case CODE.disconnected:
        out[i] = { id, partitionId, dtMs, type: c.code[i] === CODE.connected ? EVENT_TYPES.connected : EVENT_TYPES.disconnected, ethAddress: addr(i)!, connection: texts[t++] };
        break;
      case CODE.received:
        out[i] = { id, partitionId, dtMs, type: EVENT_TYPES.received, ethAddress: addr(i)!, requestID: texts[t], pipeline: texts[t + 1], modelID: texts[t + 2] };
        t += 3;
        break;
      case CODE.transcodeJob:
        out[i] = {
          id,
          partitionId,
          dtMs,
          type: EVENT_TYPES.processed,
          nodeType: "transcode",
          ethAddress: addr(i)!,
          computeUnits: c.computeUnits[i],
          pricePerComputeUnit: texts[t],
          fees: texts[t + 1],
          responseTimeMs: c.responseTimeMs[i],
          responseTimeRaw: c.responseTimeRaw[i],
          durationMs: orNull(c.durationMs[i]),
          realTimeRatio: orNull(c.realTimeRatio[i]),
          producerRealTimeRatio: orNull(c.producerRealTimeRatio[i]),
        };
        t += 2;
        break;
      case CODE.aiJob:
        out[i] = {
          id,
          partitionId,
          dtMs,
          type: EVENT_TYPES.processed,
          nodeType: "ai",
          ethAddress: addr(i),
          requestID: texts[t],
          pipeline: texts[t + 1],
          modelID: texts[t + 2],
          computeUnits: c.computeUnits[i],
          pricePerComputeUnit: texts[t + 3],
          fees: texts[t + 4],
          responseTimeMs: c.responseTimeMs[i],
          responseTimeRaw: c.responseTimeRaw[i],
        };
        t += 5;
        break;
      case CODE.ignored:
        out[i] = { id, partitionId, dtMs, type: "ignored", eventType: texts[t++] };
        break;
      default:
        throw new RangeError(`event columns: unknown code ${c.code[i]} at ${i}`);
    }
  }
  if (t !== texts.length) throw new RangeError(`event columns: ${texts.length - t} texts left over`);
  return out;
}
