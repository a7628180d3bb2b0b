/**
 * The worker-partition actor kind: one actor per active `node_type|region` partition.
 *
 * Spine (DESIGN.md): the S3 sensor (or `strata import`) validates events and appends them to the
 * journal, commits, then tells the partition actor `notify` (or asks `catch-up` and waits for the
 * reply, which the runtime sends after the actor's state has committed). The actor reads the
 * journal after its offset, applies the pure reducer (partition-state.ts), and hands the runtime a
 * write set; the runtime's group commit calls save, which writes the derived tables, the fee
 * ledger, the recomputed performance rankings and the offset in one transaction.
 * Ingest never pays: nothing here starts a payment (seed 003 #1).
 *
 * Messages: `notify` / `catch-up` (body {}) → reply {offset, eventsApplied};
 *           `journaled` (body {}): the same apply, but the performance recompute (which reads
 *             every attributed job of the partition) and the summary (which reads the paid
 *             amounts) wait for the next `notify` / `catch-up` / activation, and the journal is
 *             not read past the in-memory tail — ingest pokes with it after each committed part
 *             of a batch, and asks `catch-up` at the end;
 *           `refresh-summary` (body {}): a `catch-up` that writes worker_summary even when no
 *             event is new — the paid amounts it reads (payment_ledger) changed: the host asks it
 *             after each payment run that ended (supervisors/kinds/worker-partition.ts);
 *           `summary` (body {}) → reply the current PartitionSummary.
 */
import { z } from "zod";
import type { ActorContext, ActorKind, HandleResult } from "../../supervisors/actor-kind.ts";
import type { Envelope } from "../../protocols/envelope.ts";
import type { Queryable } from "../../db/db.ts";
import { RetryableError, errorMessage } from "../../protocols/errors.ts";
import { WORKER_PARTITION_KIND, readWorkerEvents } from "./journal.ts";
import { applyEvents, initialPartitionState, useParams, type PartitionState } from "./partition-state.ts";
import { configuredPlan, runsByParams, type ParamsPlan } from "./partition-params.ts";
import { requirePartition } from "./partitions.ts";
import { buildSummary, DEFAULT_PAYMENT_THRESHOLD_WEI, type PartitionSummary } from "./summary.ts";
import { loadPartitionStates, mergeWriteSets, saveMerged } from "./store.ts";
import { paidTotals } from "./payments/payment-store.ts";
import { takeWriteSet, type WriteSet } from "./write-set.ts";
import type { JournalTail } from "./journal-tail.ts";

export interface WorkerPartitionActorState extends PartitionState {
  /** Write sets not yet known to be committed, oldest first (see write-set.ts). */
  outbox: WriteSet[];
  /**
   * worker_performance may lag the jobs table: jobs were saved without a recompute (`journaled`),
   * or the state was loaded (a crash may have come between such a save and the recompute).
   */
  performanceStale: boolean;
  /** worker_summary may lag the state: `journaled` saves skip it, or the state was loaded. */
  summaryStale: boolean;
}

export interface CatchUpReply {
  partition: string;
  offset: number;
  eventsApplied: number;
}

export interface WorkerPartitionKindOptions {
  commissionBps: number;
  correlationTtlMs: number;
  paymentThresholdWei?: bigint;
  /** Journal rows read per query during catch-up (default 5000). */
  readChunk?: number;
  /** Events ingest just journaled, applied without reading them back (journal-tail.ts); optional. */
  tail?: JournalTail;
  /**
   * Replay: the parameters recorded for each partition's events (partition-params.ts
   * recordedPlan). Without one, a partition's events are applied with commissionBps and
   * correlationTtlMs (live).
   */
  paramsPlans?: ReadonlyMap<string, ParamsPlan>;
}

const emptyBody = z.object({}).passthrough();

export function createWorkerPartitionKind(opts: WorkerPartitionKindOptions): ActorKind<WorkerPartitionActorState, CatchUpReply | PartitionSummary> {
  const readChunk = opts.readChunk ?? 5000;
  const threshold = opts.paymentThresholdWei ?? DEFAULT_PAYMENT_THRESHOLD_WEI;
  /** Serial of the last write set handed to save per partition (a failed commit resets the actor: load() forgets it). */
  const handedSerial = new Map<string, number>();
  /** Serial of the last write set taken (kind-wide, ascending): tells handed write sets from new ones, even at one offset. */
  let lastSerial = 0;
  const configured = configuredPlan({ commissionBps: opts.commissionBps, correlationTtlMs: opts.correlationTtlMs });

  async function summarize(db: Queryable, state: PartitionState): Promise<PartitionSummary> {
    const paidLower = await paidTotals(db, state.partitionId);
    const paidWei = new Map<string, bigint>();
    for (const address of state.fees.keys()) {
      const paid = paidLower.get(address.toLowerCase());
      if (paid !== undefined) paidWei.set(address, paid);
    }
    return buildSummary(state, { paidWei, paymentThresholdWei: threshold });
  }

  /** Applies every journaled event after the state's offset: a new state with a new write set, or the same state when nothing was new. */
  async function catchUp(state: WorkerPartitionActorState, ctx: ActorContext, refresh: boolean): Promise<WorkerPartitionActorState> {
    let applied = 0;
    let fromTail = false;
    for (;;) {
      const held = opts.tail?.take(state.partitionId, state.offset, readChunk) ?? null;
      // A `journaled` poke applies what the tail holds and stops there: ingest fills the tail
      // as it commits, and the final catch-up (refresh) reads the journal to its end anyway.
      if (held === null && fromTail && !refresh) break;
      if (held !== null) fromTail = true;
      const chunk = held ?? (await readWorkerEvents(ctx.db, state.partitionId, state.offset, readChunk));
      if (chunk.length === 0) break;
      // One run per parameter set (live: one run; replay: the recorded history's spans). Each
      // run ends with the TTL sweep, as the live batch before a change did.
      for (const [params, run] of runsByParams(opts.paramsPlans?.get(state.partitionId) ?? configured, chunk)) {
        try {
          useParams(state, params);
          applyEvents(
            state,
            run.map((c) => c.event),
          );
        } catch (err) {
          // The journal holds validated events only: a failure here is a bug or corruption, never
          // input to skip. Retryable, so the actor restarts from its committed state (and escalates).
          throw new RetryableError(`${WORKER_PARTITION_KIND} ${state.partitionId}: applying journal after seq ${state.offset} failed: ${errorMessage(err)}`, { cause: err });
        }
        state.offset = run[run.length - 1].seq;
      }
      applied += chunk.length;
      // A short chunk from the journal is its end; after the tail, the journal may hold more.
      if (held === null && chunk.length < readChunk) break;
    }
    // Nothing new: the same state. The runtime sends the reply only after this actor's pending
    // commits (an activation's catch-up included) have committed.
    // A recompute owed (stale) is done by the next refreshing message, even with nothing new.
    if (applied === 0 && !(refresh && (state.performanceStale || state.summaryStale))) return state;
    const committed = handedSerial.get(state.partitionId) ?? -1;
    const outbox = state.outbox.filter((ws) => ws.serial > committed);
    const jobsWritten = state.performanceStale || state.changes.jobs.length > 0;
    const summary = refresh ? await summarize(ctx.db, state) : null;
    outbox.push(takeWriteSet(state, summary, refresh && jobsWritten, ++lastSerial));
    // A new object: the runtime commits states that changed.
    return { ...state, outbox, performanceStale: refresh ? false : jobsWritten, summaryStale: !refresh };
  }

  return {
    kind: WORKER_PARTITION_KIND,
    messages: { notify: emptyBody, "catch-up": emptyBody, journaled: emptyBody, "refresh-summary": emptyBody, summary: emptyBody },
    initial(entityId) {
      return { ...initialPartitionState(entityId, opts), outbox: [], performanceStale: false, summaryStale: false };
    },
    async load(db, entityIds) {
      for (const id of entityIds) requirePartition(id);
      const states = await loadPartitionStates(db, entityIds, opts);
      for (const id of entityIds) handedSerial.delete(id);
      const out = new Map<string, WorkerPartitionActorState>();
      for (const [id, s] of states) {
        out.set(id, { ...s, outbox: [], performanceStale: true, summaryStale: true });
      }
      return out;
    },
    async save(tx, entries) {
      const sorted = [...entries].sort((a, b) => (a.entityId < b.entityId ? -1 : a.entityId > b.entityId ? 1 : 0));
      // Write sets already handed to an earlier save are skipped: that transaction commits first
      // (one at a time per actor) and, if it fails, the runtime drops this later state too and
      // the actor reloads (load() forgets the offsets). Rewriting them would be correct, only slow.
      const merged = sorted.map(({ entityId, state }) => {
        const handed = handedSerial.get(entityId) ?? -1;
        return mergeWriteSets(entityId, state.outbox.filter((ws) => ws.serial > handed));
      });
      // Before any await, so a message handled while this transaction runs sees it.
      for (const m of merged) if (m) handedSerial.set(m.partitionId, m.last.serial);
      for (const m of merged) if (m) await saveMerged(tx, m);
    },
    activate(state, ctx) {
      return catchUp(state, ctx, true);
    },
    async handle(state, msg: Envelope, ctx): Promise<HandleResult<WorkerPartitionActorState, CatchUpReply | PartitionSummary>> {
      if (msg.type === "summary") return { state, reply: await summarize(ctx.db, state) };
      // A payment run credited workers: the summary's paid amounts are owed though no event is new.
      const from = msg.type === "refresh-summary" ? { ...state, summaryStale: true } : state;
      const next = await catchUp(from, ctx, msg.type !== "journaled");
      return { state: next, reply: { partition: next.partitionId, offset: next.offset, eventsApplied: next.eventsApplied } };
    },
    options: { passivateAfterMs: 30 * 60_000 },
  };
}
