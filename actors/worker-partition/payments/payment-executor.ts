/**
 * Performs the payment machine's intents (the runtime side of "machines decide; the runtime
 * executes") and returns each result as the event to send back. Every intent is idempotent
 * against the WAL, so repeating one after a crash never pays twice:
 *  - prepare: chain id, fees, nonce (max of the node's pending nonce and the WAL's highest nonce + 1), balance;
 *  - sign: EIP-1559 (type 2) signed locally; deterministic, so re-signing gives the same hash;
 *  - writeWal: the signed bytes + hash + nonce COMMITTED before anything is broadcast (fenced by the lease);
 *  - broadcast: the stored bytes; "already known" or a mined hash count as accepted;
 *  - fetchReceipt / credit / markReverted: by hash; credit and WAL close in one transaction.
 */
import { Transaction, getAddress } from "ethers";
import type { Wallet } from "ethers";
import type { Logger } from "pino";
import type { Db } from "../../../db/db.ts";
import type { Clock } from "../../../supervisors/clock.ts";
import type { CurrentPayment, PaymentEvent, PaymentIntent } from "./payment-machine.ts";
import { RpcNodeError } from "./rpc-client.ts";
import type { RpcClient } from "./rpc-client.ts";
import { creditPayment, getWalEntry, loadBalances, markAmbiguous, markBroadcast, markReverted, maxWalNonce, writeWalEntry } from "./payment-store.ts";
import type { LeaseToken } from "./payment-store.ts";

export interface PaymentExecutorDeps {
  db: Db;
  rpc: RpcClient;
  wallet: Wallet;
  clock: Clock;
  log: Logger;
}

type ActionIntent = Exclude<PaymentIntent, { type: "awaitTrigger" } | { type: "wait" } | { type: "finish" }>;

const ALREADY_KNOWN = /already known|known transaction|already imported|transaction already exists/i;
const NONCE_USED = /nonce too low|nonce has already been used|replacement transaction underpriced|already used/i;

export class PaymentExecutor {
  constructor(private readonly deps: PaymentExecutorDeps, private readonly runId: string, private readonly partitionId: string, private readonly lease: LeaseToken) {}

  async perform(intent: ActionIntent): Promise<PaymentEvent> {
    switch (intent.type) {
      case "loadLedger":
        try {
          return { type: "LEDGER_LOADED", balances: await loadBalances(this.deps.db, intent.partitionId) };
        } catch (err) {
          return { type: "LEDGER_FAILED", reason: `could not read the fee and payment ledgers: ${(err as Error).message}` };
        }
      case "prepare":
        return this.prepare();
      case "sign":
        return this.sign(intent.payment, intent.chainId, intent.gasLimit);
      case "writeWal":
        return this.writeWal(intent.payment, intent.chainId, intent.gasLimit);
      case "broadcast":
        return this.broadcast(intent.payment);
      case "fetchReceipt":
        return this.fetchReceipt(intent.payment);
      case "credit":
        await creditPayment(this.deps.db, intent.payment.paymentId, intent.payment.blockNumber ?? 0);
        this.deps.log.info({ partition: this.partitionId, paymentId: intent.payment.paymentId, to: intent.payment.ethAddress, amountWei: intent.payment.amountWei, txHash: intent.payment.txHash }, "payment credited");
        return { type: "CREDITED" };
      case "markReverted":
        await markReverted(this.deps.db, intent.payment.paymentId, intent.payment.blockNumber ?? 0);
        this.deps.log.error({ partition: this.partitionId, paymentId: intent.payment.paymentId, to: intent.payment.ethAddress, txHash: intent.payment.txHash }, "PAYMENT REVERTED on chain: nothing transferred; worker blocked until a person resolves it");
        return { type: "REVERT_RECORDED" };
    }
  }

  private async prepare(): Promise<PaymentEvent> {
    const { rpc, wallet, db } = this.deps;
    try {
      const chainId = await rpc.chainId();
      // The WAL first, then the node: a payment recorded in between is seen by one or the other.
      const walNonce = await maxWalNonce(db, wallet.address, chainId);
      const [baseFee, priorityFee, pendingNonce, balance] = await Promise.all([rpc.baseFee(), rpc.priorityFee(), rpc.nonce(wallet.address, "pending"), rpc.balance(wallet.address, "pending")]);
      const nonce = walNonce === null ? pendingNonce : Math.max(pendingNonce, walNonce + 1);
      return { type: "PREPARED", chainId, nonce, baseFeeWei: baseFee.toString(), priorityFeeWei: priorityFee.toString(), balanceWei: balance.toString() };
    } catch (err) {
      return { type: "RPC_FAILED", reason: (err as Error).message };
    }
  }

  private async sign(p: CurrentPayment, chainId: string, gasLimit: string): Promise<PaymentEvent> {
    try {
      const rawTx = await this.deps.wallet.signTransaction({
        type: 2,
        to: getAddress(p.ethAddress.toLowerCase()),
        value: BigInt(p.amountWei),
        nonce: p.nonce!,
        chainId: BigInt(chainId),
        gasLimit: BigInt(gasLimit),
        maxFeePerGas: BigInt(p.maxFeePerGas!),
        maxPriorityFeePerGas: BigInt(p.maxPriorityFeePerGas!),
      });
      return { type: "SIGNED", rawTx, txHash: Transaction.from(rawTx).hash! };
    } catch (err) {
      return { type: "SIGN_FAILED", reason: `could not sign payment ${p.paymentId} to ${p.ethAddress}: ${(err as Error).message}` };
    }
  }

  private async writeWal(p: CurrentPayment, chainId: string, gasLimit: string): Promise<PaymentEvent> {
    // A run resumed after a crash may hold a nonce prepared long ago: if the chain has used it
    // meanwhile (and this payment is not in the WAL yet), prepare again rather than send a
    // transaction that would only come back ambiguous. Best effort: safety does not depend on it.
    if ((await getWalEntry(this.deps.db, p.paymentId)) === null) {
      const used = await this.deps.rpc.nonce(this.deps.wallet.address, "latest").catch(() => null);
      if (used !== null && used > p.nonce!) return { type: "NONCE_TAKEN" };
    }
    const res = await writeWalEntry(
      this.deps.db,
      {
        paymentId: p.paymentId, runId: this.runId, partitionId: this.partitionId, ethAddress: p.ethAddress, amountWei: p.amountWei,
        fromAddress: this.deps.wallet.address, chainId, nonce: p.nonce!, maxFeePerGas: p.maxFeePerGas!, maxPriorityFeePerGas: p.maxPriorityFeePerGas!,
        gasLimit, rawTx: p.rawTx!, txHash: p.txHash!,
      },
      this.lease,
      this.deps.clock.now(),
    );
    if (res.type === "committed") return { type: "WAL_COMMITTED" };
    if (res.type === "nonce_taken") return { type: "NONCE_TAKEN" };
    if (res.type === "wrong_chain") return { type: "WAL_REFUSED", reason: res.reason };
    return { type: "LEASE_LOST", reason: res.reason };
  }

  private async broadcast(p: CurrentPayment): Promise<PaymentEvent> {
    const { rpc, db, log } = this.deps;
    const wal = await getWalEntry(db, p.paymentId);
    if (wal && (wal.status === "ambiguous" || wal.status === "reverted")) {
      return { type: "PAYMENT_AMBIGUOUS", reason: wal.note ?? `payment ${p.paymentId} is ${wal.status}` };
    }
    try {
      await rpc.sendRaw(p.rawTx!);
    } catch (err) {
      if (!(err instanceof RpcNodeError)) return { type: "RPC_FAILED", reason: (err as Error).message };
      if (!ALREADY_KNOWN.test(err.rpcMessage)) {
        // Mined already (a resumed run) or taken by another transaction: ask the node by hash.
        let known: boolean;
        try {
          known = (await rpc.receipt(p.txHash!)) !== null || (await rpc.knowsTransaction(p.txHash!));
        } catch (e) {
          return { type: "RPC_FAILED", reason: (e as Error).message };
        }
        if (!known) {
          if (NONCE_USED.test(err.rpcMessage) && (await this.nonceUsed(p))) {
            const note = `nonce ${p.nonce} of ${this.deps.wallet.address} was used by another transaction and ${p.txHash} is unknown to the node: it may or may not have been paid; nothing more is paid to ${p.ethAddress} until a person resolves payment ${p.paymentId}`;
            await markAmbiguous(db, p.paymentId, note);
            log.error({ partition: this.partitionId, paymentId: p.paymentId, txHash: p.txHash, to: p.ethAddress, amountWei: p.amountWei }, `AMBIGUOUS PAYMENT: ${note}`);
            return { type: "PAYMENT_AMBIGUOUS", reason: note };
          }
          const reason = `broadcast of payment ${p.paymentId} refused by the node: ${err.rpcMessage}; the payment stays open and is reconciled by its hash`;
          log.error({ partition: this.partitionId, paymentId: p.paymentId, txHash: p.txHash }, reason);
          return { type: "BROADCAST_REJECTED", reason };
        }
      }
    }
    await markBroadcast(db, p.paymentId);
    return { type: "BROADCAST_ACCEPTED" };
  }

  /** True when the chain has mined another transaction with this payment's nonce. */
  private async nonceUsed(p: CurrentPayment): Promise<boolean> {
    try {
      return (await this.deps.rpc.nonce(this.deps.wallet.address, "latest")) > p.nonce!;
    } catch {
      return false;
    }
  }

  private async fetchReceipt(p: CurrentPayment): Promise<PaymentEvent> {
    try {
      const r = await this.deps.rpc.receipt(p.txHash!);
      if (r === null) return { type: "RECEIPT_PENDING" };
      return { type: "RECEIPT", status: r.status, blockNumber: r.blockNumber };
    } catch (err) {
      return { type: "RPC_FAILED", reason: (err as Error).message };
    }
  }
}
