/**
 * Recovery without guessing: every open WAL entry (signed or broadcast) of a partition is
 * reconciled by its transaction hash before a payment run decides anything.
 *  - mined with status 1 → credit it (ledger + WAL close in one transaction);
 *  - mined with status 0 → reverted (worker blocked until a person resolves it);
 *  - known to the node (mempool) → still in flight, left open;
 *  - unknown and its nonce unused → re-broadcast the same signed bytes;
 *  - unknown and its nonce used by another transaction → ambiguous: nothing more is paid to that
 *    worker until a person resolves it, logged at error level.
 * A node that does not answer, or refuses the re-broadcast because another transaction with the
 * same nonce is pending, leaves the entry open (it still counts as in flight) for a later run.
 */
import type { Logger } from "pino";
import type { Db } from "../../../db/db.ts";
import { RpcNodeError } from "./rpc-client.ts";
import type { RpcClient } from "./rpc-client.ts";
import { OPEN_STATUSES, creditPayment, listWalEntries, markAmbiguous, markBroadcast, markReverted } from "./payment-store.ts";
import type { WalEntry } from "./payment-store.ts";

/** contested: the node refused the re-broadcast (another transaction with that nonce is pending); decided on a later run. */
export type RecoveryAction = "credited" | "reverted" | "in_flight" | "rebroadcast" | "ambiguous" | "contested" | "unreachable";

export interface RecoveryOutcome {
  paymentId: string;
  ethAddress: string;
  txHash: string;
  action: RecoveryAction;
  detail: string;
}

async function reconcileOne(db: Db, rpc: RpcClient, e: WalEntry, log: Logger): Promise<RecoveryOutcome> {
  const out = (action: RecoveryAction, detail: string): RecoveryOutcome => ({ paymentId: e.paymentId, ethAddress: e.ethAddress, txHash: e.txHash, action, detail });
  try {
    const receipt = await rpc.receipt(e.txHash);
    if (receipt) {
      if (receipt.status === 1) {
        await creditPayment(db, e.paymentId, receipt.blockNumber, "recovery");
        return out("credited", `mined in block ${receipt.blockNumber}`);
      }
      await markReverted(db, e.paymentId, receipt.blockNumber);
      log.error({ paymentId: e.paymentId, txHash: e.txHash, to: e.ethAddress }, "PAYMENT REVERTED on chain (found by recovery): worker blocked until a person resolves it");
      return out("reverted", `mined with status 0 in block ${receipt.blockNumber}`);
    }
    if (await rpc.knowsTransaction(e.txHash)) {
      await markBroadcast(db, e.paymentId, "recovery");
      return out("in_flight", "known to the node, not mined yet");
    }
    const used = await rpc.nonce(e.fromAddress, "latest");
    if (used > e.nonce) {
      // Mined between the two questions? Ask once more by hash before calling it ambiguous.
      const again = await rpc.receipt(e.txHash);
      if (again) return reconcileOne(db, rpc, e, log);
      const note = `nonce ${e.nonce} of ${e.fromAddress} was used by another transaction and ${e.txHash} is unknown to the node: it may or may not have been paid; nothing more is paid to ${e.ethAddress} until a person resolves payment ${e.paymentId}`;
      await markAmbiguous(db, e.paymentId, note);
      log.error({ paymentId: e.paymentId, txHash: e.txHash, to: e.ethAddress, amountWei: e.amountWei, nonce: e.nonce }, `AMBIGUOUS PAYMENT: ${note}`);
      return out("ambiguous", note);
    }
    try {
      await rpc.sendRaw(e.rawTx);
    } catch (err) {
      if (!(err instanceof RpcNodeError)) throw err;
      if (!/already known|known transaction/i.test(err.rpcMessage)) {
        log.warn({ paymentId: e.paymentId, txHash: e.txHash, nonce: e.nonce, err: err.rpcMessage }, "re-broadcast refused; the payment stays open until the nonce is settled on chain");
        return out("contested", err.rpcMessage);
      }
    }
    await markBroadcast(db, e.paymentId, "recovery");
    log.warn({ paymentId: e.paymentId, txHash: e.txHash, nonce: e.nonce }, "payment unknown to the node with its nonce unused: re-broadcast the same signed bytes");
    return out("rebroadcast", `nonce ${e.nonce} unused; same signed bytes re-broadcast`);
  } catch (err) {
    log.warn({ paymentId: e.paymentId, txHash: e.txHash, err: (err as Error).message }, "payment could not be reconciled now; it stays open (in flight)");
    return out("unreachable", (err as Error).message);
  }
}

/** Reconcile every open WAL entry of the partition, oldest first. */
export async function reconcileOpenPayments(deps: { db: Db; rpc: RpcClient; log: Logger }, partitionId: string): Promise<RecoveryOutcome[]> {
  const open = await listWalEntries(deps.db, partitionId, OPEN_STATUSES);
  const outcomes: RecoveryOutcome[] = [];
  // By nonce: a re-broadcast lower nonce must reach the node before a higher one can be mined.
  for (const e of open.sort((a, b) => a.nonce - b.nonce)) outcomes.push(await reconcileOne(deps.db, deps.rpc, e, deps.log));
  return outcomes;
}
