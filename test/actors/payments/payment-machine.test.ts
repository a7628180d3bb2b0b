/** Pure tests of the payment run machine: every transition and guard, intents, snapshot restore. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createActor, initialTransition, transition } from "xstate";
import { changedSettings, decideFees, intentOf, paymentMachine, phaseOf, resumeUnderSettings } from "../../../actors/worker-partition/payments/payment-machine.ts";
import type { PaymentEvent, PaymentRunSnapshot, PaymentSettings } from "../../../actors/worker-partition/payments/payment-machine.ts";
import { planPayments } from "../../../actors/worker-partition/payments/unpaid.ts";

const settings: PaymentSettings = {
  thresholdWei: "10000000000000000",
  maxGasPriceWei: "5000000000000",
  gasLimit: "21000",
  chainId: "31337",
  rpcRetryDelaysMs: [1000, 2000, 4000],
  receiptRetryDelaysMs: [2000, 4000, 8000],
};
const A = "0x00000000000000000000000000000000000000aa";
const B = "0x00000000000000000000000000000000000000bb";
const C = "0x00000000000000000000000000000000000000cc";

function start(s: PaymentSettings = settings): PaymentRunSnapshot {
  return initialTransition(paymentMachine, { runId: "run1", partitionId: "transcode|us-west", settings: s })[0];
}
function run(snap: PaymentRunSnapshot, ...events: PaymentEvent[]): PaymentRunSnapshot {
  for (const e of events) {
    const [next, actions] = transition(paymentMachine, snap, e);
    // Machines decide only: no transition produces an executable side effect.
    assert.equal(actions.filter((a) => !a.type.startsWith("xstate.")).length, 0, `no side effects on ${e.type}`);
    snap = next;
  }
  return snap;
}
const bal = (ethAddress: string, earnedWei: string, paidWei = "0", inFlightWei = "0", blockedReason: string | null = null) => ({ ethAddress, earnedWei, paidWei, inFlightWei, blockedReason });
const prepared = (over: Partial<Extract<PaymentEvent, { type: "PREPARED" }>> = {}): PaymentEvent => ({
  type: "PREPARED", chainId: "31337", nonce: 7, baseFeeWei: "1000000000", priorityFeeWei: "100000000", balanceWei: "100000000000000000000", ...over,
});
const twoPayments = (): PaymentRunSnapshot =>
  run(start(), { type: "TRIGGER" }, { type: "LEDGER_LOADED", balances: [bal(B, "20000000000000000"), bal(A, "12000000000000000")] });

test("unpaid - earned minus paid minus in flight, threshold inclusive, never negative, no bad or zero address", () => {
  const { planned, skipped } = planPayments("r", [
    bal(A, "12000000000000000"),
    bal(B, "9990000000000000"),
    bal(C, "30000000000000000", "10000000000000000", "10000000000000000"),
    bal("0x00000000000000000000000000000000000000dd", "5", "10"),
    bal("0x00000000000000000000000000000000000000ee", "50000000000000000", "0", "0", "payment r0-1 ambiguous"),
    bal("0x0000000000000000000000000000000000000000", "50000000000000000"),
    bal("0xnot-an-address", "50000000000000000"),
  ], "10000000000000000");
  assert.equal(planned, [
    { paymentId: "r-1", ethAddress: A, amountWei: "12000000000000000" },
    { paymentId: "r-2", ethAddress: C, amountWei: "10000000000000000" },
  ]);
  assert.equal(skipped.map((s) => [s.ethAddress, s.reason, s.unpaidWei]), [
    ["0x0000000000000000000000000000000000000000", "zero_address", "50000000000000000"],
    [B, "below_threshold", "9990000000000000"],
    ["0x00000000000000000000000000000000000000dd", "ledger_mismatch", "0"],
    ["0x00000000000000000000000000000000000000ee", "blocked", "50000000000000000"],
    ["0xnot-an-address", "invalid_address", "50000000000000000"],
  ]);
});

test("fees - maxFeePerGas is 2×base + tip, capped; above the cap a clear reason", () => {
  assert.equal(decideFees("1000", "10", "1000000"), { ok: true, maxFeePerGas: "2010", maxPriorityFeePerGas: "10" });
  assert.equal(decideFees("1000", "10", "1500"), { ok: true, maxFeePerGas: "1500", maxPriorityFeePerGas: "10" });
  const refused = decideFees("1000", "10", "1009");
  assert.is(refused.ok, false);
  assert.match((refused as { reason: string }).reason, /gas price 1010 wei .* above MAX_GAS_PRICE_WEI 1009; nothing sent/);
});

test("machine - idle waits for a deliberate trigger", () => {
  const s = start();
  assert.is(phaseOf(s), "idle");
  assert.equal(intentOf(s), { type: "awaitTrigger" });
  assert.is(phaseOf(run(s, { type: "RECEIPT_PENDING" })), "idle");
  const loading = run(s, { type: "TRIGGER" });
  assert.equal(intentOf(loading), { type: "loadLedger", partitionId: "transcode|us-west" });
});

test("machine - nothing above the threshold ends done with nothing sent", () => {
  const s = run(start(), { type: "TRIGGER" }, { type: "LEDGER_LOADED", balances: [bal(A, "9990000000000000")] });
  assert.is(s.status, "done");
  assert.equal(intentOf(s), { type: "finish", outcome: "done", reason: null });
  assert.equal(s.context.results, []);
  assert.is(s.context.skipped[0].reason, "below_threshold");
});

test("machine - ledger failure stops with the reason", () => {
  const s = run(start(), { type: "TRIGGER" }, { type: "LEDGER_FAILED", reason: "db down" });
  assert.equal(intentOf(s), { type: "finish", outcome: "stopped", reason: "db down" });
});

test("machine - full happy path of two payments walks every phase in order", () => {
  let s = twoPayments();
  const phases: string[] = [];
  const step = (e: PaymentEvent) => { s = run(s, e); phases.push(phaseOf(s)); };
  assert.is(phaseOf(s), "preparing");
  assert.is(s.context.current!.ethAddress, A);
  step(prepared());
  assert.equal(intentOf(s), { type: "sign", payment: s.context.current!, chainId: "31337", gasLimit: "21000" });
  assert.is(s.context.current!.nonce, 7);
  assert.is(s.context.current!.maxFeePerGas, "2100000000");
  assert.is(s.context.current!.maxPriorityFeePerGas, "100000000");
  step({ type: "SIGNED", rawTx: "0x02aa", txHash: "0xh1" });
  assert.is(intentOf(s).type, "writeWal");
  step({ type: "WAL_COMMITTED" });
  assert.equal(intentOf(s), { type: "broadcast", payment: s.context.current! });
  step({ type: "BROADCAST_ACCEPTED" });
  assert.is(intentOf(s).type, "fetchReceipt");
  step({ type: "RECEIPT", status: 1, blockNumber: 5 });
  assert.is(intentOf(s).type, "credit");
  step({ type: "CREDITED" });
  assert.is(s.context.current!.ethAddress, B);
  assert.is(s.context.current!.txHash, null);
  step(prepared({ nonce: 8 }));
  step({ type: "SIGNED", rawTx: "0x02bb", txHash: "0xh2" });
  step({ type: "WAL_COMMITTED" });
  step({ type: "BROADCAST_ACCEPTED" });
  step({ type: "RECEIPT", status: 1, blockNumber: 6 });
  step({ type: "CREDITED" });
  assert.equal(phases, ["signing", "recordingWal", "broadcasting", "awaitingReceipt", "crediting", "preparing", "signing", "recordingWal", "broadcasting", "awaitingReceipt", "crediting", "done"]);
  assert.equal(s.context.results.map((r) => [r.ethAddress, r.amountWei, r.outcome, r.txHash]), [
    [A, "12000000000000000", "credited", "0xh1"],
    [B, "20000000000000000", "credited", "0xh2"],
  ]);
});

test("machine - chain id mismatch stops before signing", () => {
  const s = run(twoPayments(), prepared({ chainId: "1" }));
  assert.is(s.status, "done");
  assert.match(s.context.stopReason!, /chain id mismatch: node reports 1, CHAIN_ID is 31337/);
  assert.is(s.context.results[0].outcome, "not_sent");
});

test("machine - gas above the cap: no send and a clear reason", () => {
  const s = run(twoPayments(), prepared({ baseFeeWei: "6000000000000" }));
  assert.is(phaseOf(s), "stopped");
  assert.match(s.context.stopReason!, /above MAX_GAS_PRICE_WEI 5000000000000; nothing sent/);
  assert.equal(s.context.results.map((r) => r.outcome), ["not_sent"]);
});

test("machine - insufficient balance (amount + gas) stops before signing", () => {
  const s = run(twoPayments(), prepared({ balanceWei: "12000000000000000" }));
  assert.is(phaseOf(s), "stopped");
  assert.match(s.context.stopReason!, /insufficient balance: payer has 12000000000000000 wei/);
});

test("machine - RPC failures back off 1/2/4 s then stop with nothing sent", () => {
  let s = twoPayments();
  const delays: number[] = [];
  for (let i = 0; i < 3; i++) {
    s = run(s, { type: "RPC_FAILED", reason: "ECONNREFUSED" });
    assert.is(phaseOf(s), "rpcRetryWait");
    const intent = intentOf(s);
    delays.push(intent.type === "wait" ? intent.delayMs : -1);
    s = run(s, { type: "RETRY" });
    assert.is(phaseOf(s), "preparing");
  }
  assert.equal(delays, [1000, 2000, 4000]);
  s = run(s, { type: "RPC_FAILED", reason: "ECONNREFUSED" });
  assert.is(phaseOf(s), "stopped");
  assert.is(s.context.stopReason, "ECONNREFUSED");
});

test("machine - a nonce taken in the WAL re-prepares without sending", () => {
  let s = run(twoPayments(), prepared(), { type: "SIGNED", rawTx: "0x02", txHash: "0xh" }, { type: "NONCE_TAKEN" });
  assert.is(phaseOf(s), "preparing");
  assert.is(s.context.current!.rawTx, null);
  assert.is(s.context.current!.nonce, null);
  s = run(s, prepared({ nonce: 9 }));
  assert.is(s.context.current!.nonce, 9);
});

test("machine - lease lost at the WAL write stops with nothing sent", () => {
  const s = run(twoPayments(), prepared(), { type: "SIGNED", rawTx: "0x02", txHash: "0xh" }, { type: "LEASE_LOST", reason: "lease taken by host-2" });
  assert.is(s.context.stopReason, "lease taken by host-2");
  assert.is(s.context.results[0].outcome, "not_sent");
});

const broadcasting = (): PaymentRunSnapshot => run(twoPayments(), prepared(), { type: "SIGNED", rawTx: "0x02", txHash: "0xh" }, { type: "WAL_COMMITTED" });

test("machine - broadcast RPC failure retries the same bytes, then leaves the payment open", () => {
  let s = run(broadcasting(), { type: "RPC_FAILED", reason: "timeout" });
  assert.is(phaseOf(s), "rpcRetryWait");
  s = run(s, { type: "RETRY" });
  assert.equal(intentOf(s), { type: "broadcast", payment: s.context.current! });
  assert.is(s.context.current!.rawTx, "0x02");
  s = run(s, { type: "RPC_FAILED", reason: "timeout" }, { type: "RETRY" }, { type: "RPC_FAILED", reason: "timeout" }, { type: "RETRY" }, { type: "RPC_FAILED", reason: "timeout" });
  assert.is(phaseOf(s), "stopped");
  assert.equal(s.context.results.map((r) => [r.outcome, r.txHash]), [["open", "0xh"]]);
});

test("machine - a rejected broadcast stops with the payment open for reconciliation", () => {
  const s = run(broadcasting(), { type: "BROADCAST_REJECTED", reason: "nonce used by another transaction" });
  assert.is(s.context.results[0].outcome, "open");
  assert.is(s.context.stopReason, "nonce used by another transaction");
});

test("machine - an ambiguous payment blocks that worker only: the run moves to the next", () => {
  const s = run(broadcasting(), { type: "PAYMENT_AMBIGUOUS", reason: "nonce 7 used by another transaction" });
  assert.is(phaseOf(s), "preparing");
  assert.is(s.context.current!.ethAddress, B);
  assert.equal(s.context.results.map((r) => [r.ethAddress, r.outcome, r.reason]), [[A, "ambiguous", "nonce 7 used by another transaction"]]);
  const last = run(s, prepared({ nonce: 8 }), { type: "SIGNED", rawTx: "0x03", txHash: "0xh3" }, { type: "WAL_COMMITTED" }, { type: "PAYMENT_AMBIGUOUS", reason: "x" });
  assert.is(phaseOf(last), "done");
});

test("machine - receipt polls back off 2/4/8 s and a timeout never marks the payment failed", () => {
  let s = run(broadcasting(), { type: "BROADCAST_ACCEPTED" });
  const delays: number[] = [];
  for (let i = 0; i < 3; i++) {
    s = run(s, { type: "RECEIPT_PENDING" });
    const intent = intentOf(s);
    delays.push(intent.type === "wait" ? intent.delayMs : -1);
    s = run(s, { type: "RETRY" });
  }
  assert.equal(delays, [2000, 4000, 8000]);
  s = run(s, { type: "RECEIPT_PENDING" });
  assert.is(phaseOf(s), "stopped");
  assert.is(s.context.results[0].outcome, "open");
  assert.match(s.context.stopReason!, /never marked failed/);
});

test("machine - RPC failure while awaiting the receipt returns to awaiting", () => {
  const s = run(broadcasting(), { type: "BROADCAST_ACCEPTED" }, { type: "RPC_FAILED", reason: "502" }, { type: "RETRY" });
  assert.is(phaseOf(s), "awaitingReceipt");
});

test("machine - a reverted receipt is recorded and the run moves on", () => {
  const s = run(broadcasting(), { type: "BROADCAST_ACCEPTED" }, { type: "RECEIPT", status: 0, blockNumber: 3 });
  assert.is(intentOf(s).type, "markReverted");
  const next = run(s, { type: "REVERT_RECORDED" });
  assert.is(phaseOf(next), "preparing");
  assert.is(next.context.results[0].outcome, "reverted");
});

/** Persist a snapshot as payment-run.ts does (JSON), resume it under `now` settings, restore it as an actor. */
function resumed(snap: PaymentRunSnapshot, now: PaymentSettings, currentInWal: boolean) {
  const actor = createActor(paymentMachine, { snapshot: snap, input: { runId: "run1", partitionId: "p", settings } });
  const persisted = JSON.parse(JSON.stringify(actor.getPersistedSnapshot())) as PaymentRunSnapshot;
  const restored = createActor(paymentMachine, { snapshot: resumeUnderSettings(persisted, now, currentInWal), input: { runId: "x", partitionId: "x", settings: now } });
  restored.start();
  return restored;
}

test("machine - a resumed snapshot decides under the current settings, not the saved ones", () => {
  const lowCap = { ...settings, maxGasPriceWei: "1000", gasLimit: "30000", rpcRetryDelaysMs: [5] };
  assert.equal(changedSettings(settings, lowCap), ["maxGasPriceWei", "gasLimit", "rpcRetryDelaysMs"]);
  // Saved while preparing: the gas cap guard reads the new cap.
  const preparing = resumed(twoPayments(), lowCap, false);
  assert.equal(preparing.getSnapshot().context.settings, lowCap);
  preparing.send(prepared());
  assert.is(phaseOf(preparing.getSnapshot()), "stopped");
  assert.match(preparing.getSnapshot().context.stopReason!, /above MAX_GAS_PRICE_WEI 1000; nothing sent$/);
  preparing.stop();
  // Saved while signing (fees decided under the old cap): prepared again, nothing of the old decision kept.
  const signing = resumed(run(twoPayments(), prepared()), lowCap, false);
  const s = signing.getSnapshot();
  assert.is(phaseOf(s), "preparing");
  assert.equal([s.context.current!.nonce, s.context.current!.maxFeePerGas, s.context.current!.rawTx], [null, null, null]);
  assert.is(s.context.current!.paymentId, "run1-1", "same payment");
  signing.send({ type: "RPC_FAILED", reason: "down" });
  assert.equal(intentOf(signing.getSnapshot()), { type: "wait", delayMs: 5 }, "new retry delays");
  signing.stop();
  const okCap = { ...settings, gasLimit: "30000" };
  const resigned = resumed(run(twoPayments(), prepared()), okCap, false);
  resigned.send(prepared());
  assert.equal(intentOf(resigned.getSnapshot()), { type: "sign", payment: resigned.getSnapshot().context.current!, chainId: "31337", gasLimit: "30000" }, "new gas limit");
  resigned.stop();
});

test("machine - a resumed payment keeps its signed bytes only once they are in the WAL", () => {
  const signed = run(twoPayments(), prepared(), { type: "SIGNED", rawTx: "0x02aa", txHash: "0xhash" });
  const lowCap = { ...settings, maxGasPriceWei: "1000" };
  const notRecorded = resumed(signed, lowCap, false);
  assert.is(phaseOf(notRecorded.getSnapshot()), "preparing", "signed but never recorded: decided again");
  assert.is(notRecorded.getSnapshot().context.current!.rawTx, null);
  notRecorded.stop();
  const recorded = resumed(signed, lowCap, true);
  assert.is(phaseOf(recorded.getSnapshot()), "recordingWal");
  assert.is(recorded.getSnapshot().context.current!.rawTx, "0x02aa", "the WAL's bytes are kept");
  recorded.send({ type: "WAL_COMMITTED" });
  assert.equal(intentOf(recorded.getSnapshot()), { type: "broadcast", payment: recorded.getSnapshot().context.current! });
  recorded.stop();
  const broadcasting = resumed(run(signed, { type: "WAL_COMMITTED" }), lowCap, true);
  assert.is(phaseOf(broadcasting.getSnapshot()), "broadcasting");
  assert.is(broadcasting.getSnapshot().context.current!.txHash, "0xhash");
  assert.is(broadcasting.getSnapshot().context.settings.maxGasPriceWei, "1000");
  broadcasting.stop();
});

test("machine - a persisted snapshot restores into the same phase with the same signed bytes", () => {
  const actor = createActor(paymentMachine, { input: { runId: "run1", partitionId: "p", settings } });
  actor.start();
  for (const e of [{ type: "TRIGGER" }, { type: "LEDGER_LOADED", balances: [bal(A, "12000000000000000")] }, prepared(), { type: "SIGNED", rawTx: "0x02ff", txHash: "0xhh" }, { type: "WAL_COMMITTED" }] as PaymentEvent[]) actor.send(e);
  const persisted = JSON.parse(JSON.stringify(actor.getPersistedSnapshot()));
  actor.stop();
  const restored = createActor(paymentMachine, { snapshot: persisted, input: { runId: "x", partitionId: "x", settings } });
  restored.start();
  const snap = restored.getSnapshot();
  assert.is(phaseOf(snap), "broadcasting");
  assert.equal(intentOf(snap), { type: "broadcast", payment: snap.context.current! });
  assert.is(snap.context.current!.rawTx, "0x02ff");
  restored.send({ type: "BROADCAST_ACCEPTED" });
  restored.send({ type: "RECEIPT", status: 1, blockNumber: 1 });
  restored.send({ type: "CREDITED" });
  assert.is(restored.getSnapshot().status, "done");
  restored.stop();
});

test.run();
