/**
 * Review item 1 (HIGH): recovery judged open payments by an RPC node of another chain before
 * anything compared the node's chain id with CHAIN_ID. A payment of chain 42161 left open, the
 * node then of another chain where the payer key had used more nonces: no receipt, unknown hash,
 * nonce used → marked ambiguous (resolved "unpaid", paid twice), and the run ended "done".
 * Now the run asks the node's chain id right after the lease and refuses on a mismatch, touching
 * nothing. Real anvil chains (`anvil --chain-id`) and a real Postgres.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Transaction } from "ethers";
import { runPayments } from "../../../actors/worker-partition/payments/payment-run.ts";
import { listAudit, listWalEntries, paidTotals } from "../../../actors/worker-partition/payments/payment-store.ts";
import { createRpcClient } from "../../../actors/worker-partition/payments/rpc-client.ts";
import { freePort } from "../../../supervisors/embedded/free-port.ts";
import { DEV_ACCOUNTS, startAnvil } from "../../support/anvil.ts";
import type { Anvil } from "../../support/anvil.ts";
import { ETH, paymentFixture, randomAddress, settle } from "./support.ts";
import type { PaymentFixture } from "./support.ts";

const ARBITRUM = "42161";

/** A payment of `amountWei` to `to` signed for chain 42161 with nonce 0, recorded in the WAL as `status` (left open). */
async function openArbitrumPayment(fx: PaymentFixture, to: string, amountWei: bigint, status: "signed" | "broadcast"): Promise<{ paymentId: string; txHash: string }> {
  const rawTx = await fx.payer.signTransaction({ type: 2, to, value: amountWei, nonce: 0, chainId: BigInt(ARBITRUM), gasLimit: 21000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 10n ** 9n });
  const txHash = Transaction.from(rawTx).hash!;
  const paymentId = "pmt_20250301_abcdef-1";
  await fx.db.query(
    `INSERT INTO payment_wal (payment_id, run_id, partition_id, eth_address, amount_wei, from_address, chain_id, nonce,
       max_fee_per_gas, max_priority_fee_per_gas, gas_limit, raw_tx, tx_hash, status)
     VALUES ($1, 'pmt_20250301_abcdef', $2, $3, $4, $5, $6, 0, 10000000000, 1000000000, 21000, $7, $8, $9)`,
    [paymentId, fx.partition, to, amountWei.toString(), fx.payer.address, ARBITRUM, rawTx, txHash, status],
  );
  return { paymentId, txHash };
}

/** Spend `count` nonces of the payer key on the fixture's own chain (31337) and wait until they are mined. */
async function spendNonces(fx: PaymentFixture, count: number): Promise<void> {
  for (let nonce = 0; nonce < count; nonce++) {
    const raw = await fx.payer.signTransaction({ type: 2, to: DEV_ACCOUNTS[1].address, value: 1n, nonce, chainId: 31337n, gasLimit: 21000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 10n ** 9n });
    const hash = await fx.rpc.sendRaw(raw);
    for (let i = 0; i < 400 && (await fx.rpc.receipt(hash)) === null; i++) await new Promise((r) => setTimeout(r, 5));
  }
  assert.is(await fx.rpc.nonce(fx.payer.address, "latest"), count);
}

test("payments - a node of another chain: the run is refused before recovery, the open payment is left as it was, nothing is sent", async () => {
  const fx = await paymentFixture(); // its node is anvil on chain 31337: the wrong node for CHAIN_ID 42161
  let arbitrum: Anvil | null = null;
  try {
    const a = randomAddress();
    const amount = 2n * ETH / 100n;
    await fx.earn(a, amount);
    const open = await openArbitrumPayment(fx, a, amount, "broadcast");
    // On the wrong node the payer key has used more nonces than the open payment's.
    await spendNonces(fx, 2);

    const report = await settle(runPayments(fx.deps("host-1", { chainId: ARBITRUM }), fx.partition, { trigger: "admin" }), fx.clock);
    assert.is(report.outcome, "refused");
    if (report.outcome === "busy") throw new Error("unexpected");
    assert.match(report.stopReason!, /^chain id mismatch: node reports 31337, CHAIN_ID is 42161; nothing reconciled or sent/);
    assert.equal([report.recovery, report.results, report.resumed], [[], [], false]);
    const [entry] = await listWalEntries(fx.db, fx.partition);
    assert.equal([entry.paymentId, entry.status, entry.note], [open.paymentId, "broadcast", null], "not judged by the other chain (not ambiguous)");
    assert.is(await fx.rpc.nonce(fx.payer.address, "pending"), 2, "nothing sent");
    assert.is(await fx.balance(a), 0n);
    const audit = await listAudit(fx.db, fx.partition);
    assert.equal(audit.map((x) => x.event), ["run_refused"]);
    assert.match(String(audit[0].detail.reason), "node reports 31337, CHAIN_ID is 42161");
    const runs = await fx.db.query<{ n: string }>("SELECT count(*)::text AS n FROM payment_runs");
    assert.is(runs.rows[0].n, "0", "no run recorded");
    assert.ok(fx.logLines.some((l) => l.includes("payment run refused: chain id mismatch") && l.includes('"level":50')), "said at error level");

    // ETH_RPC_ENDPOINT fixed (a node of chain 42161): the same entry is reconciled there, by its own
    // bytes: unknown with its nonce unused → re-broadcast, then mined and credited exactly once.
    arbitrum = await startAnvil({ chainId: Number(ARBITRUM) });
    const onArbitrum = { ...fx.deps("host-1", { chainId: ARBITRUM }), rpc: createRpcClient(arbitrum.url) };
    const fixed = await settle(runPayments(onArbitrum, fx.partition, { trigger: "admin" }), fx.clock);
    assert.is(fixed.outcome, "done");
    if (fixed.outcome === "busy") throw new Error("unexpected");
    assert.equal(fixed.recovery.map((r) => r.action), ["rebroadcast"]);
    assert.equal(fixed.results, [], "nothing more is due: the open payment counts as in flight");
    for (let i = 0; i < 400 && (await onArbitrum.rpc.receipt(open.txHash)) === null; i++) await new Promise((r) => setTimeout(r, 5));
    const credited = await settle(runPayments(onArbitrum, fx.partition, { trigger: "admin" }), fx.clock);
    if (credited.outcome === "busy") throw new Error("unexpected");
    assert.equal([credited.outcome, credited.recovery.map((r) => r.action), credited.results], ["done", ["credited"], []]);
    assert.is(await onArbitrum.rpc.balance(a), amount);
    assert.is(await onArbitrum.rpc.nonce(fx.payer.address, "latest"), 1);
    assert.is((await paidTotals(fx.db, fx.partition)).get(a.toLowerCase()), amount);
  } finally {
    await arbitrum?.stop();
    await fx.close();
  }
});

test("payments - a node that never answers eth_chainId: the run throws after the RPC retries and touches nothing", async () => {
  const fx = await paymentFixture();
  try {
    const a = randomAddress();
    await fx.earn(a, 2n * ETH / 100n);
    await openArbitrumPayment(fx, a, 2n * ETH / 100n, "signed");
    const deps = { ...fx.deps("host-1", { chainId: ARBITRUM, rpcRetryDelaysMs: [1000, 2000] }), rpc: createRpcClient(`http://127.0.0.1:${await freePort()}`) };
    const started = fx.clock.now();
    const err = await settle(runPayments(deps, fx.partition, { trigger: "admin" }), fx.clock).then(() => null, (e: Error) => e);
    assert.match(err?.message ?? "no error", /^eth_chainId: RPC endpoint unreachable/);
    assert.is(fx.clock.now() - started, 3000, "asked again after each RPC retry delay");
    assert.equal((await listWalEntries(fx.db, fx.partition)).map((w) => w.status), ["signed"]);
    assert.equal(await listAudit(fx.db, fx.partition), []);
    // The lease was released: the next run is not busy (here it is refused: the fixture's node is of chain 31337).
    const next = await settle(runPayments(fx.deps("host-2", { chainId: ARBITRUM }), fx.partition, { trigger: "admin" }), fx.clock);
    assert.is(next.outcome, "refused");
  } finally {
    await fx.close();
  }
});

test.run();
