/**
 * The state of one partition actor and the pure reducer that applies journal events to it.
 *
 * Events are applied one by one in journal order (the journal hands each event ID over once:
 * decision 1); the result does not depend on how the journal is cut into batches, so replay
 * equals live (DESIGN rule 5). `changes` lists what the next save must write; the actor's save
 * takes it and starts a fresh one.
 */
import { creditJobFee, ZERO_ADDRESS, type FeeBook } from "./fees.ts";
import { applyConnected, applyDisconnected, applyReset, type ConnectionBook } from "./connections.ts";
import {
  advanceWatermark,
  expireCorrelations,
  newCorrelationState,
  onAiJobProcessed,
  onJobReceived,
  type CorrelationOutcome,
  type CorrelationState,
} from "./correlation.ts";
import { requirePartition, type NodeType, type PartitionId } from "./partitions.ts";
import type { AiJobEvent, TranscodeJobEvent, WorkerEvent } from "./events.ts";
import { sameParams, type PartitionParams, type ParamsRow } from "./partition-params.ts";

/** One processed job as stored in `worker_processed_jobs` (attributed or not). */
export interface JobRecord {
  eventId: string;
  ethAddress: string | null;
  nodeType: NodeType;
  requestID: string | null;
  modelID: string | null;
  pipeline: string | null;
  dtMs: number;
  computeUnits: number;
  pricePerComputeUnit: string;
  fees: string;
  responseTimeMs: number;
  responseTimeRaw: number;
  realTimeRatio: number | null;
  attributed: boolean;
  /** Why a job is unattributed: `ttl`, `superseded`, `zero-address`. */
  reason: string | null;
}

export interface PendingWrites {
  fees: Set<string>;
  connections: Set<string>;
  /** requestIDs whose pending correlation entries changed. */
  correlation: Set<string>;
  jobs: JobRecord[];
  /** Parameter history rows to record (partition-params.ts): a change of commission or TTL. */
  params: ParamsRow[];
}

export interface PartitionState {
  partitionId: PartitionId;
  nodeType: NodeType;
  commissionBps: number;
  /** The parameters the history (worker_partition_params) holds for the next event; null when none is known. */
  recordedParams: PartitionParams | null;
  /** Journal seq of the last applied event; 0 before any. */
  offset: number;
  eventsApplied: number;
  correlation: CorrelationState;
  fees: FeeBook;
  connections: ConnectionBook;
  unattributed: { jobs: number; fees: bigint };
  expiredReceived: number;
  changes: PendingWrites;
}

export function emptyChanges(): PendingWrites {
  return { fees: new Set(), connections: new Set(), correlation: new Set(), jobs: [], params: [] };
}

export function initialPartitionState(partitionId: string, opts: { commissionBps: number; correlationTtlMs: number }): PartitionState {
  const p = requirePartition(partitionId);
  return {
    partitionId: p.id,
    nodeType: p.nodeType,
    commissionBps: opts.commissionBps,
    recordedParams: null,
    offset: 0,
    eventsApplied: 0,
    correlation: newCorrelationState(opts.correlationTtlMs),
    fees: new Map(),
    connections: new Map(),
    unattributed: { jobs: 0, fees: 0n },
    expiredReceived: 0,
    changes: emptyChanges(),
  };
}

function jobRecord(ev: TranscodeJobEvent | AiJobEvent, ethAddress: string | null, reason: string | null): JobRecord {
  const ai = ev.nodeType === "ai";
  return {
    eventId: ev.id,
    ethAddress,
    nodeType: ev.nodeType,
    requestID: ai ? ev.requestID : null,
    modelID: ai ? ev.modelID : null,
    pipeline: ai ? ev.pipeline : null,
    dtMs: ev.dtMs,
    computeUnits: ev.computeUnits,
    pricePerComputeUnit: ev.pricePerComputeUnit,
    fees: ev.fees,
    responseTimeMs: ev.responseTimeMs,
    responseTimeRaw: ev.responseTimeRaw,
    realTimeRatio: ai ? null : ev.realTimeRatio,
    attributed: reason === null,
    reason,
  };
}

function attribute(state: PartitionState, ev: TranscodeJobEvent | AiJobEvent, ethAddress: string): void {
  if (ethAddress === ZERO_ADDRESS) return unattribute(state, ev, "zero-address");
  if (creditJobFee(state.fees, ethAddress, BigInt(ev.fees), state.commissionBps)) state.changes.fees.add(ethAddress);
  state.changes.jobs.push(jobRecord(ev, ethAddress, null));
}

function unattribute(state: PartitionState, ev: TranscodeJobEvent | AiJobEvent, reason: string): void {
  state.unattributed.jobs += 1;
  state.unattributed.fees += BigInt(ev.fees);
  state.changes.jobs.push(jobRecord(ev, null, reason));
}

function settle(state: PartitionState, outcomes: CorrelationOutcome[]): void {
  for (const o of outcomes) {
    if (o.kind === "attributed") attribute(state, o.job, o.ethAddress);
    else if (o.kind === "unattributed") {
      state.changes.correlation.add(o.job.requestID);
      unattribute(state, o.job, o.reason);
    } else {
      state.changes.correlation.add(o.requestID);
      state.expiredReceived += 1;
    }
  }
}

/**
 * The parameters the next events are applied with (before applying them, at `state.offset`):
 * commission and TTL take them, and a change from what the history holds is recorded as a row
 * from the current offset.
 */
export function useParams(state: PartitionState, params: PartitionParams): void {
  state.commissionBps = params.commissionBps;
  state.correlation.ttlMs = params.correlationTtlMs;
  if (sameParams(state.recordedParams, params)) return;
  state.changes.params.push({ fromOffset: state.offset, commissionBps: params.commissionBps, correlationTtlMs: params.correlationTtlMs });
  state.recordedParams = { commissionBps: params.commissionBps, correlationTtlMs: params.correlationTtlMs };
}

/** Applies one event (already validated and deduplicated by the journal). */
export function applyEvent(state: PartitionState, ev: WorkerEvent): void {
  advanceWatermark(state.correlation, ev.dtMs);
  state.eventsApplied += 1;
  const outcomes: CorrelationOutcome[] = [];
  switch (ev.type) {
    case "orchestrator-reset":
      for (const address of applyReset(state.connections, ev.dtMs)) state.changes.connections.add(address);
      break;
    case "worker-connected":
      if (applyConnected(state.connections, ev.ethAddress, ev.connection, ev.dtMs)) state.changes.connections.add(ev.ethAddress);
      break;
    case "worker-disconnected":
      if (applyDisconnected(state.connections, ev.ethAddress, ev.connection, ev.dtMs)) state.changes.connections.add(ev.ethAddress);
      break;
    case "job-received":
      state.changes.correlation.add(ev.requestID);
      onJobReceived(state.correlation, ev, outcomes);
      break;
    case "job-processed":
      if (ev.nodeType === "transcode") attribute(state, ev, ev.ethAddress);
      else {
        state.changes.correlation.add(ev.requestID);
        onAiJobProcessed(state.correlation, ev, outcomes);
      }
      break;
    case "ignored":
      break;
  }
  settle(state, outcomes);
}

/** Applies events in order, then expires correlation entries past the TTL. */
export function applyEvents(state: PartitionState, events: Iterable<WorkerEvent>): PartitionState {
  for (const ev of events) applyEvent(state, ev);
  const outcomes: CorrelationOutcome[] = [];
  expireCorrelations(state.correlation, outcomes);
  settle(state, outcomes);
  return state;
}
