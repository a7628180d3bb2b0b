/**
 * The payment run of one worker partition, as an XState v5 machine.
 *
 * Machines decide; the runtime executes. This machine never performs a side effect: no invoked
 * promises (XState re-runs an invoked promise when a snapshot is restored = a re-sent payment),
 * no `after` timers (not re-armed on restore). Each state names an intent (`intentOf`); the
 * driver (payment-run.ts) performs it with the executor and sends the result back as an event.
 * Every intent is idempotent against the WAL, so a snapshot restored after a crash simply
 * performs the intent of its state again.
 *
 *   idle ─TRIGGER→ loadingLedger ─LEDGER_LOADED→ (payments? paying : done)
 *   paying: preparing → signing → recordingWal (COMMIT) → broadcasting → awaitingReceipt → crediting → next
 *           (an ambiguous payment found at broadcast blocks that worker only: the run moves to the next)
 *           RPC failures wait 1/2/4 s (rpcRetryWait), receipts 2/4/8 s (receiptRetryWait);
 *           a receipt that never comes leaves the payment open (never failed) and stops the run.
 *   done | stopped (final; stopped carries a reason)
 *
 * Context is plain JSON (wei as decimal strings) so `getPersistedSnapshot()` can be stored; a
 * stored snapshot is resumed under the current settings (`resumeUnderSettings`), never its own.
 */
import { assign, setup } from "xstate";
import type { SnapshotFrom } from "xstate";
import { planPayments } from "./unpaid.ts";
import type { PlannedPayment, SkippedWorker, WorkerBalance } from "./unpaid.ts";

export interface PaymentSettings {
  thresholdWei: string;
  maxGasPriceWei: string;
  gasLimit: string;
  chainId: string;
  rpcRetryDelaysMs: number[];
  receiptRetryDelaysMs: number[];
}

export interface CurrentPayment extends PlannedPayment {
  nonce: number | null;
  maxFeePerGas: string | null;
  maxPriorityFeePerGas: string | null;
  rawTx: string | null;
  txHash: string | null;
  /** Failed attempts of the phase in progress (reset when a phase succeeds). */
  rpcFailures: number;
  receiptPolls: number;
  /** Where to go after rpcRetryWait. */
  retryPhase: "preparing" | "broadcasting" | "awaitingReceipt" | null;
  blockNumber: number | null;
}

export type PaymentOutcome = "credited" | "reverted" | "ambiguous" | "open" | "not_sent";

export interface PaymentResult {
  paymentId: string;
  ethAddress: string;
  amountWei: string;
  outcome: PaymentOutcome;
  txHash: string | null;
  reason: string | null;
}

export interface PaymentRunContext {
  runId: string;
  partitionId: string;
  settings: PaymentSettings;
  planned: PlannedPayment[];
  skipped: SkippedWorker[];
  index: number;
  current: CurrentPayment | null;
  results: PaymentResult[];
  stopReason: string | null;
}

export interface PaymentRunInput {
  runId: string;
  partitionId: string;
  settings: PaymentSettings;
}

export type PaymentEvent =
  | { type: "TRIGGER" }
  | { type: "LEDGER_LOADED"; balances: WorkerBalance[] }
  | { type: "LEDGER_FAILED"; reason: string }
  | { type: "PREPARED"; chainId: string; nonce: number; baseFeeWei: string; priorityFeeWei: string; balanceWei: string }
  | { type: "RPC_FAILED"; reason: string }
  | { type: "SIGNED"; rawTx: string; txHash: string }
  | { type: "SIGN_FAILED"; reason: string }
  | { type: "WAL_COMMITTED" }
  | { type: "NONCE_TAKEN" }
  | { type: "LEASE_LOST"; reason: string }
  /** The WAL write refused the payment (the database's payments are on another chain): nothing written, nothing sent. */
  | { type: "WAL_REFUSED"; reason: string }
  | { type: "BROADCAST_ACCEPTED" }
  | { type: "BROADCAST_REJECTED"; reason: string }
  /** The WAL entry was found ambiguous (its nonce used by another transaction): this worker is blocked, the run goes on. */
  | { type: "PAYMENT_AMBIGUOUS"; reason: string }
  | { type: "RECEIPT"; status: 0 | 1; blockNumber: number }
  | { type: "RECEIPT_PENDING" }
  | { type: "CREDITED" }
  | { type: "REVERT_RECORDED" }
  | { type: "RETRY" };

/** Fee decision for EIP-1559: pay base + tip, offer up to 2×base + tip, never above the cap. */
export function decideFees(baseFeeWei: string, priorityFeeWei: string, maxGasPriceWei: string): { ok: true; maxFeePerGas: string; maxPriorityFeePerGas: string } | { ok: false; reason: string } {
  const base = BigInt(baseFeeWei);
  const tip = BigInt(priorityFeeWei);
  const cap = BigInt(maxGasPriceWei);
  const needed = base + tip;
  if (needed > cap) {
    return { ok: false, reason: `gas price ${needed} wei (base fee ${base} + priority fee ${tip}) is above MAX_GAS_PRICE_WEI ${cap}; nothing sent` };
  }
  const offer = 2n * base + tip;
  return { ok: true, maxFeePerGas: (offer < cap ? offer : cap).toString(), maxPriorityFeePerGas: tip.toString() };
}

type PreparedEvent = Extract<PaymentEvent, { type: "PREPARED" }>;

function stopReason(ctx: PaymentRunContext, e: PaymentEvent): string {
  if (e.type === "PREPARED") {
    if (e.chainId !== ctx.settings.chainId) return `chain id mismatch: node reports ${e.chainId}, CHAIN_ID is ${ctx.settings.chainId}; nothing sent`;
    const fees = decideFees(e.baseFeeWei, e.priorityFeeWei, ctx.settings.maxGasPriceWei);
    if (!fees.ok) return fees.reason;
    const cur = ctx.current!;
    const cost = BigInt(cur.amountWei) + BigInt(ctx.settings.gasLimit) * BigInt(fees.maxFeePerGas);
    return `insufficient balance: payer has ${e.balanceWei} wei, payment ${cur.paymentId} needs up to ${cost} wei (amount + gas); nothing sent`;
  }
  if ("reason" in e) return e.reason;
  return e.type;
}

function fresh(p: PlannedPayment): CurrentPayment {
  return { ...p, nonce: null, maxFeePerGas: null, maxPriorityFeePerGas: null, rawTx: null, txHash: null, rpcFailures: 0, receiptPolls: 0, retryPhase: null, blockNumber: null };
}

function resultOf(cur: CurrentPayment, outcome: PaymentOutcome, reason: string | null): PaymentResult {
  return { paymentId: cur.paymentId, ethAddress: cur.ethAddress, amountWei: cur.amountWei, outcome, txHash: cur.txHash, reason };
}

export const paymentMachine = setup({
  types: {
    context: {} as PaymentRunContext,
    events: {} as PaymentEvent,
    input: {} as PaymentRunInput,
  },
  guards: {
    /** Evaluated before `plan` assigns: decides from the event's balances. */
    hasPayments: ({ context, event }) =>
      planPayments(context.runId, (event as Extract<PaymentEvent, { type: "LEDGER_LOADED" }>).balances, context.settings.thresholdWei).planned.length > 0,
    hasNextPayment: ({ context }) => context.index + 1 < context.planned.length,
    chainMismatch: ({ context, event }) => (event as PreparedEvent).chainId !== context.settings.chainId,
    gasAboveCap: ({ context, event }) => {
      const e = event as PreparedEvent;
      return !decideFees(e.baseFeeWei, e.priorityFeeWei, context.settings.maxGasPriceWei).ok;
    },
    insufficientBalance: ({ context, event }) => {
      const e = event as PreparedEvent;
      const fees = decideFees(e.baseFeeWei, e.priorityFeeWei, context.settings.maxGasPriceWei);
      if (!fees.ok) return false;
      const cost = BigInt(context.current!.amountWei) + BigInt(context.settings.gasLimit) * BigInt(fees.maxFeePerGas);
      return BigInt(e.balanceWei) < cost;
    },
    canRetryRpc: ({ context }) => context.current!.rpcFailures < context.settings.rpcRetryDelaysMs.length,
    canPollReceipt: ({ context }) => context.current!.receiptPolls < context.settings.receiptRetryDelaysMs.length,
    retryPreparing: ({ context }) => context.current!.retryPhase === "preparing",
    retryBroadcasting: ({ context }) => context.current!.retryPhase === "broadcasting",
  },
  actions: {
    plan: assign(({ context, event }) => {
      const e = event as Extract<PaymentEvent, { type: "LEDGER_LOADED" }>;
      const { planned, skipped } = planPayments(context.runId, e.balances, context.settings.thresholdWei);
      return { planned, skipped, index: 0, current: planned.length > 0 ? fresh(planned[0]) : null };
    }),
    takeFees: assign(({ context, event }) => {
      const e = event as PreparedEvent;
      const fees = decideFees(e.baseFeeWei, e.priorityFeeWei, context.settings.maxGasPriceWei);
      if (!fees.ok) return {};
      return { current: { ...context.current!, nonce: e.nonce, maxFeePerGas: fees.maxFeePerGas, maxPriorityFeePerGas: fees.maxPriorityFeePerGas, rpcFailures: 0, retryPhase: null } };
    }),
    takeSigned: assign(({ context, event }) => {
      const e = event as Extract<PaymentEvent, { type: "SIGNED" }>;
      return { current: { ...context.current!, rawTx: e.rawTx, txHash: e.txHash } };
    }),
    forgetSigned: assign(({ context }) => ({ current: { ...fresh(context.current!) } })),
    rpcFailed: assign(({ context }, params: { phase: "preparing" | "broadcasting" | "awaitingReceipt" }) => ({
      current: { ...context.current!, rpcFailures: context.current!.rpcFailures + 1, retryPhase: params.phase },
    })),
    resetRpcFailures: assign(({ context }) => ({ current: { ...context.current!, rpcFailures: 0, retryPhase: null } })),
    receiptNotYet: assign(({ context }) => ({ current: { ...context.current!, receiptPolls: context.current!.receiptPolls + 1, rpcFailures: 0 } })),
    takeReceipt: assign(({ context, event }) => {
      const e = event as Extract<PaymentEvent, { type: "RECEIPT" }>;
      return { current: { ...context.current!, blockNumber: e.blockNumber } };
    }),
    recordCredited: assign(({ context }) => ({ results: [...context.results, resultOf(context.current!, "credited", null)] })),
    recordReverted: assign(({ context }) => ({ results: [...context.results, resultOf(context.current!, "reverted", "transaction mined with status 0; worker blocked until resolved")] })),
    recordAmbiguous: assign(({ context, event }) => ({
      results: [...context.results, resultOf(context.current!, "ambiguous", (event as Extract<PaymentEvent, { type: "PAYMENT_AMBIGUOUS" }>).reason)],
    })),
    advance: assign(({ context }) => ({ index: context.index + 1, current: fresh(context.planned[context.index + 1]) })),
    /** Stop before anything durable exists for the current payment. */
    stopNotSent: assign(({ context, event }) => {
      const reason = stopReason(context, event);
      return { stopReason: reason, results: context.current ? [...context.results, resultOf(context.current, "not_sent", reason)] : context.results };
    }),
    /** Stop with the current payment's WAL entry open: it is reconciled by hash later, never failed. */
    stopOpen: assign(({ context, event }, params: { reason?: string }) => {
      const reason = params.reason ?? stopReason(context, event);
      return { stopReason: reason, results: [...context.results, resultOf(context.current!, "open", reason)] };
    }),
    stopLedger: assign(({ context, event }) => ({ stopReason: stopReason(context, event) })),
  },
}).createMachine({
  id: "paymentRun",
  initial: "idle",
  context: ({ input }) => ({
    runId: input.runId,
    partitionId: input.partitionId,
    settings: input.settings,
    planned: [],
    skipped: [],
    index: 0,
    current: null,
    results: [],
    stopReason: null,
  }),
  states: {
    idle: { on: { TRIGGER: "loadingLedger" } },
    loadingLedger: {
      on: {
        LEDGER_LOADED: [
          { guard: "hasPayments", target: "paying", actions: "plan" },
          { target: "done", actions: "plan" },
        ],
        LEDGER_FAILED: { target: "stopped", actions: "stopLedger" },
      },
    },
    paying: {
      initial: "preparing",
      states: {
        preparing: {
          on: {
            PREPARED: [
              { guard: "chainMismatch", target: "#paymentRun.stopped", actions: "stopNotSent" },
              { guard: "gasAboveCap", target: "#paymentRun.stopped", actions: "stopNotSent" },
              { guard: "insufficientBalance", target: "#paymentRun.stopped", actions: "stopNotSent" },
              { target: "signing", actions: "takeFees" },
            ],
            RPC_FAILED: [
              { guard: "canRetryRpc", target: "rpcRetryWait", actions: { type: "rpcFailed", params: { phase: "preparing" } } },
              { target: "#paymentRun.stopped", actions: "stopNotSent" },
            ],
          },
        },
        signing: {
          on: {
            SIGNED: { target: "recordingWal", actions: "takeSigned" },
            SIGN_FAILED: { target: "#paymentRun.stopped", actions: "stopNotSent" },
          },
        },
        recordingWal: {
          on: {
            WAL_COMMITTED: "broadcasting",
            // Another payment holds this nonce in the WAL: nothing was sent, prepare again.
            NONCE_TAKEN: { target: "preparing", actions: "forgetSigned" },
            LEASE_LOST: { target: "#paymentRun.stopped", actions: "stopNotSent" },
            WAL_REFUSED: { target: "#paymentRun.stopped", actions: "stopNotSent" },
          },
        },
        broadcasting: {
          on: {
            BROADCAST_ACCEPTED: { target: "awaitingReceipt", actions: "resetRpcFailures" },
            RPC_FAILED: [
              { guard: "canRetryRpc", target: "rpcRetryWait", actions: { type: "rpcFailed", params: { phase: "broadcasting" } } },
              { target: "#paymentRun.stopped", actions: { type: "stopOpen", params: {} } },
            ],
            BROADCAST_REJECTED: { target: "#paymentRun.stopped", actions: { type: "stopOpen", params: {} } },
            PAYMENT_AMBIGUOUS: [
              { guard: "hasNextPayment", target: "preparing", actions: ["recordAmbiguous", "advance"] },
              { target: "#paymentRun.done", actions: "recordAmbiguous" },
            ],
          },
        },
        awaitingReceipt: {
          on: {
            RECEIPT: [
              { guard: ({ event }) => event.status === 1, target: "crediting", actions: "takeReceipt" },
              { target: "recordingRevert", actions: "takeReceipt" },
            ],
            RECEIPT_PENDING: [
              { guard: "canPollReceipt", target: "receiptRetryWait", actions: "receiptNotYet" },
              {
                target: "#paymentRun.stopped",
                actions: { type: "stopOpen", params: { reason: "receipt not seen after all polls; the payment stays open and is reconciled by its hash (never marked failed)" } },
              },
            ],
            RPC_FAILED: [
              { guard: "canRetryRpc", target: "rpcRetryWait", actions: { type: "rpcFailed", params: { phase: "awaitingReceipt" } } },
              { target: "#paymentRun.stopped", actions: { type: "stopOpen", params: {} } },
            ],
          },
        },
        rpcRetryWait: {
          on: {
            RETRY: [
              { guard: "retryPreparing", target: "preparing" },
              { guard: "retryBroadcasting", target: "broadcasting" },
              { target: "awaitingReceipt" },
            ],
          },
        },
        receiptRetryWait: { on: { RETRY: "awaitingReceipt" } },
        crediting: {
          on: {
            CREDITED: [
              { guard: "hasNextPayment", target: "preparing", actions: ["recordCredited", "advance"] },
              { target: "#paymentRun.done", actions: "recordCredited" },
            ],
          },
        },
        recordingRevert: {
          on: {
            REVERT_RECORDED: [
              { guard: "hasNextPayment", target: "preparing", actions: ["recordReverted", "advance"] },
              { target: "#paymentRun.done", actions: "recordReverted" },
            ],
          },
        },
      },
    },
    done: { type: "final" },
    stopped: { type: "final" },
  },
});

export type PaymentRunSnapshot = SnapshotFrom<typeof paymentMachine>;

/** The phase of a state value (`{ paying: "signing" }` → "signing"). */
function phaseOfValue(value: unknown): string {
  return typeof value === "string" ? value : Object.values(value as Record<string, string>)[0];
}

/**
 * A saved snapshot made ready to resume under the settings in force NOW. XState restores the
 * saved context as it was, settings included, so without this a lowered MAX_GAS_PRICE_WEI (or
 * GAS_LIMIT, threshold, retry delays) would be ignored by a run resumed after a restart.
 *  - The context's settings become `settings`: every decision from here on uses them.
 *  - A payment whose fees were decided (`signing`), or whose bytes were signed but never
 *    recorded in the WAL (`recordingWal` with `currentInWal` false), goes back to `preparing`:
 *    nothing durable exists for it, so its chain id (checked against the node), fees and gas
 *    limit are decided again.
 *  - A payment in the WAL keeps its signed bytes: they may be on the network, and recovery
 *    re-broadcasts exactly those.
 * The plan (which workers, how much) was decided at ledger load and is kept; a new threshold
 * applies from the next ledger load.
 */
export function resumeUnderSettings<S extends { value: unknown; context: PaymentRunContext }>(saved: S, settings: PaymentSettings, currentInWal: boolean): S {
  const context: PaymentRunContext = { ...saved.context, settings };
  const phase = phaseOfValue(saved.value);
  if (context.current && (phase === "signing" || (phase === "recordingWal" && !currentInWal))) {
    return { ...saved, value: { paying: "preparing" }, context: { ...context, current: fresh(context.current) } };
  }
  return { ...saved, context };
}

/** Names of the settings that differ between two settings objects (for the resume log). */
export function changedSettings(before: PaymentSettings, after: PaymentSettings): string[] {
  return (Object.keys(after) as (keyof PaymentSettings)[]).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
}

/** What the driver must do next for a snapshot: the machine's intents, derived from its state. */
export type PaymentIntent =
  | { type: "awaitTrigger" }
  | { type: "loadLedger"; partitionId: string }
  | { type: "prepare"; payment: CurrentPayment }
  | { type: "sign"; payment: CurrentPayment; chainId: string; gasLimit: string }
  | { type: "writeWal"; payment: CurrentPayment; chainId: string; gasLimit: string }
  | { type: "broadcast"; payment: CurrentPayment }
  | { type: "fetchReceipt"; payment: CurrentPayment }
  | { type: "wait"; delayMs: number }
  | { type: "credit"; payment: CurrentPayment }
  | { type: "markReverted"; payment: CurrentPayment }
  | { type: "finish"; outcome: "done" | "stopped"; reason: string | null };

/** The phase name of a snapshot (`paying.broadcasting` → "broadcasting"). */
export function phaseOf(snapshot: PaymentRunSnapshot): string {
  return phaseOfValue(snapshot.value);
}

export function intentOf(snapshot: PaymentRunSnapshot): PaymentIntent {
  const ctx = snapshot.context;
  const cur = ctx.current!;
  switch (phaseOf(snapshot)) {
    case "idle":
      return { type: "awaitTrigger" };
    case "loadingLedger":
      return { type: "loadLedger", partitionId: ctx.partitionId };
    case "preparing":
      return { type: "prepare", payment: cur };
    case "signing":
      return { type: "sign", payment: cur, chainId: ctx.settings.chainId, gasLimit: ctx.settings.gasLimit };
    case "recordingWal":
      return { type: "writeWal", payment: cur, chainId: ctx.settings.chainId, gasLimit: ctx.settings.gasLimit };
    case "broadcasting":
      return { type: "broadcast", payment: cur };
    case "awaitingReceipt":
      return { type: "fetchReceipt", payment: cur };
    case "rpcRetryWait":
      return { type: "wait", delayMs: ctx.settings.rpcRetryDelaysMs[cur.rpcFailures - 1] ?? 0 };
    case "receiptRetryWait":
      return { type: "wait", delayMs: ctx.settings.receiptRetryDelaysMs[cur.receiptPolls - 1] ?? 0 };
    case "crediting":
      return { type: "credit", payment: cur };
    case "recordingRevert":
      return { type: "markReverted", payment: cur };
    case "done":
      return { type: "finish", outcome: "done", reason: null };
    default:
      return { type: "finish", outcome: "stopped", reason: ctx.stopReason };
  }
}
