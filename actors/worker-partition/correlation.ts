/**
 * AI job correlation (pure): `job-received` (carries the worker's ethAddress) ↔ `job-processed`
 * (carries the fee) by `requestID`, across batches (domain A2.3, decision 4).
 *
 * - A processed job with its own ethAddress is attributed directly.
 * - A processed job whose received entry is known is attributed to that worker; the entry is used up.
 * - Otherwise it waits (durably, in the actor's state) for its received entry.
 * - A received entry with a waiting job completes it; otherwise it is remembered (a later one wins).
 * - TTL, in event time: the watermark is the latest event time seen. An entry older than
 *   watermark − TTL has expired: a waiting job becomes unattributed (reported, never dropped),
 *   a received entry is forgotten. Expiry is checked whenever an entry is met again (matched,
 *   replaced, superseded) and by `expireCorrelations`, so the outcome does not depend on when the
 *   sweep runs, i.e. on where batches end (live and replay cut the journal differently).
 */
import type { AiJobEvent, JobReceivedEvent } from "./events.ts";

export interface ReceivedEntry {
  ethAddress: string;
  pipeline: string;
  modelID: string;
  atMs: number;
  eventId: string;
}

export interface CorrelationState {
  received: Map<string, ReceivedEntry>;
  waiting: Map<string, AiJobEvent>;
  ttlMs: number;
  /** Latest event time applied (epoch ms), or null before the first event. */
  watermarkMs: number | null;
}

export type CorrelationOutcome =
  | { kind: "attributed"; job: AiJobEvent; ethAddress: string }
  | { kind: "unattributed"; job: AiJobEvent; reason: string }
  | { kind: "expired-received"; requestID: string };

export function newCorrelationState(ttlMs: number): CorrelationState {
  return { received: new Map(), waiting: new Map(), ttlMs, watermarkMs: null };
}

export function advanceWatermark(state: CorrelationState, atMs: number): void {
  if (state.watermarkMs === null || atMs > state.watermarkMs) state.watermarkMs = atMs;
}

function expired(state: CorrelationState, atMs: number): boolean {
  return state.watermarkMs !== null && atMs < state.watermarkMs - state.ttlMs;
}

export function onJobReceived(state: CorrelationState, ev: JobReceivedEvent, out: CorrelationOutcome[]): void {
  advanceWatermark(state, ev.dtMs);
  const waiting = state.waiting.get(ev.requestID);
  if (waiting) {
    state.waiting.delete(ev.requestID);
    if (expired(state, waiting.dtMs)) {
      out.push({ kind: "unattributed", job: waiting, reason: "ttl" });
    } else {
      out.push({ kind: "attributed", job: waiting, ethAddress: ev.ethAddress });
      return;
    }
  }
  // A later received entry replaces an earlier one; an earlier one already expired is counted as
  // the sweep would have counted it (the outcome must not depend on where a batch ended).
  const replaced = state.received.get(ev.requestID);
  if (replaced && expired(state, replaced.atMs)) out.push({ kind: "expired-received", requestID: ev.requestID });
  state.received.set(ev.requestID, { ethAddress: ev.ethAddress, pipeline: ev.pipeline, modelID: ev.modelID, atMs: ev.dtMs, eventId: ev.id });
}

export function onAiJobProcessed(state: CorrelationState, ev: AiJobEvent, out: CorrelationOutcome[]): void {
  advanceWatermark(state, ev.dtMs);
  if (ev.ethAddress !== null) {
    out.push({ kind: "attributed", job: ev, ethAddress: ev.ethAddress });
    return;
  }
  const entry = state.received.get(ev.requestID);
  if (entry) {
    state.received.delete(ev.requestID);
    if (!expired(state, entry.atMs)) {
      out.push({ kind: "attributed", job: ev, ethAddress: entry.ethAddress });
      return;
    }
    out.push({ kind: "expired-received", requestID: ev.requestID });
  }
  const earlier = state.waiting.get(ev.requestID);
  // Two processed events for one requestID: the earlier one can never be matched any more. If it
  // had already expired it is `ttl`, as the sweep would have made it (wherever a batch ended).
  if (earlier) out.push({ kind: "unattributed", job: earlier, reason: expired(state, earlier.dtMs) ? "ttl" : "superseded" });
  state.waiting.set(ev.requestID, ev);
}

/** Expires every entry older than watermark − TTL. */
export function expireCorrelations(state: CorrelationState, out: CorrelationOutcome[]): void {
  if (state.watermarkMs === null) return;
  for (const [requestID, job] of state.waiting) {
    if (expired(state, job.dtMs)) {
      state.waiting.delete(requestID);
      out.push({ kind: "unattributed", job, reason: "ttl" });
    }
  }
  for (const [requestID, entry] of state.received) {
    if (expired(state, entry.atMs)) {
      state.received.delete(requestID);
      out.push({ kind: "expired-received", requestID });
    }
  }
}
