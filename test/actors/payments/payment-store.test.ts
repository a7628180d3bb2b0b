/**
 * Payment store on PostgreSQL and PGlite: lease compare-and-set, fenced idempotent WAL, credit,
 * balances; one chain per database (0303_payment_chain.sql: claimed by the first WAL write).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { migrate } from "../../../db/migrate.ts";
import { lazyDatabase, testEngines } from "../../support/databases.ts";
import {
  claimedChain, foreignChainProblem, listWalEntries,
  acquireLease, creditPayment, getWalEntry, listAudit, loadBalances, markAmbiguous, markBroadcast, maxWalNonce, releaseLease, renewLease, resolvePayment, writeWalEntry,
} from "../../../actors/worker-partition/payments/payment-store.ts";
import type { LeaseToken } from "../../../actors/worker-partition/payments/payment-store.ts";

const PAYER = "0xf39Fd6e51aad88F6F4ce6aB8827279cfFFb92266";
const W1 = "0x00000000000000000000000000000000000000A1";
const W2 = "0x00000000000000000000000000000000000000a2";

const entry = (paymentId: string, partitionId: string, ethAddress: string, amountWei: string, nonce: number, txHash = `0xhash-${paymentId}`) => ({
  paymentId, runId: "run1", partitionId, ethAddress, amountWei, fromAddress: PAYER, chainId: "31337", nonce,
  maxFeePerGas: "3000000000", maxPriorityFeePerGas: "1000000000", gasLimit: "21000", rawTx: `0x02raw-${paymentId}`, txHash,
});

for (const engine of testEngines) {
  const fx = lazyDatabase(engine, (db) => migrate(db).then(() => {}));
  const t = (name: string, fn: () => Promise<void>) => test(`payment store (${engine.name}) - ${name}`, fn);

  t("the run lease is compare-and-set: busy while held, taken over after expiry, fenced by version", async () => {
    const db = await fx.get();
    const a = await acquireLease(db, "p-lease", "host-1", "r1", 1000, 500);
    assert.equal(a, { partitionId: "p-lease", owner: "host-1", version: 1 });
    assert.is(await acquireLease(db, "p-lease", "host-2", "r2", 1499, 500), null);
    assert.ok(await renewLease(db, a!, 1400, 500));
    assert.is(await acquireLease(db, "p-lease", "host-2", "r2", 1899, 500), null, "renewed until 1900");
    const b = await acquireLease(db, "p-lease", "host-2", "r2", 1900, 500);
    assert.equal(b, { partitionId: "p-lease", owner: "host-2", version: 2 });
    assert.not.ok(await renewLease(db, a!, 1950, 500), "the old holder cannot renew");
    await releaseLease(db, a!);
    assert.is(await acquireLease(db, "p-lease", "host-3", "r3", 2000, 500), null, "a stale release does not free the new holder's lease");
    await releaseLease(db, b!);
    assert.equal(await acquireLease(db, "p-lease", "host-3", "r3", 2000, 500), { partitionId: "p-lease", owner: "host-3", version: 3 });
  });

  t("the WAL write is idempotent, fenced by the lease, and two open payments never share a nonce", async () => {
    const db = await fx.get();
    const lease = (await acquireLease(db, "p-wal", "host-1", "r", 0, 10_000)) as LeaseToken;
    assert.equal(await writeWalEntry(db, entry("p-wal-1", "p-wal", W1, "100", 5), lease, 1), { type: "committed" });
    assert.equal(await writeWalEntry(db, entry("p-wal-1", "p-wal", W1, "100", 5), lease, 2), { type: "committed" }, "same signed tx again");
    const other = await writeWalEntry(db, entry("p-wal-1", "p-wal", W1, "100", 5, "0xdifferent"), lease, 3);
    assert.is(other.type, "lease_lost");
    assert.equal(await writeWalEntry(db, entry("p-wal-2", "p-wal", W2, "100", 5), lease, 4), { type: "nonce_taken" });
    assert.is(await maxWalNonce(db, PAYER.toLowerCase(), "31337"), 5);
    assert.equal(await writeWalEntry(db, entry("p-wal-5", "p-wal", W2, "100", 4), lease, 4), { type: "nonce_taken" }, "below a WAL nonce");
    const stale = await writeWalEntry(db, entry("p-wal-3", "p-wal", W2, "100", 6), { ...lease, version: lease.version + 1 }, 5);
    assert.is(stale.type, "lease_lost");
    assert.is(await writeWalEntry(db, entry("p-wal-4", "p-wal", W2, "100", 6), lease, 20_000).then((r) => r.type), "lease_lost", "expired lease");
    assert.is(await getWalEntry(db, "p-wal-3"), null);
    // A closed payment's nonce was consumed on chain: it still counts.
    await creditPayment(db, "p-wal-1", 9);
    assert.is(await maxWalNonce(db, PAYER, "31337"), 5);
    assert.is(await maxWalNonce(db, PAYER, "1"), null, "per chain");
    const e = await getWalEntry(db, "p-wal-1");
    assert.equal([e!.status, e!.nonce, e!.amountWei, e!.blockNumber], ["credited", 5, "100", 9]);
  });

  t("credit is one transaction and happens once; balances count paid, in flight and blocked", async () => {
    const db = await fx.get();
    const p = "p-bal";
    await db.query(`INSERT INTO worker_fee_ledger (partition_id, eth_address, earned_wei) VALUES ($1, $2, $3), ($1, $4, $5)`, [p, W1, "1000000000000000000000", W2, "500"]);
    const lease = (await acquireLease(db, p, "host-1", "r", 0, 10_000)) as LeaseToken;
    await writeWalEntry(db, entry("p-bal-1", p, W1.toLowerCase(), "300000000000000000000", 10), lease, 1);
    await writeWalEntry(db, entry("p-bal-2", p, W1, "1", 11), lease, 1);
    await writeWalEntry(db, entry("p-bal-3", p, W2, "200", 12), lease, 1);
    assert.ok(await markBroadcast(db, "p-bal-1"));
    assert.not.ok(await markBroadcast(db, "p-bal-1"), "already broadcast");
    assert.ok(await creditPayment(db, "p-bal-1", 100));
    assert.not.ok(await creditPayment(db, "p-bal-1", 100), "credited once");
    assert.ok(await markAmbiguous(db, "p-bal-3", "nonce 12 used by another transaction"));
    const balances = await loadBalances(db, p);
    assert.equal(balances.map((b) => [b.ethAddress, b.earnedWei, b.paidWei, b.inFlightWei, b.blockedReason]), [
      [W1, "1000000000000000000000", "300000000000000000000", "1", null],
      [W2, "500", "0", "200", "needs a person: p-bal-3 is ambiguous"],
    ]);
    assert.ok(await resolvePayment(db, "p-bal-3", "paid", "ops", "found on a block explorer"));
    assert.not.ok(await resolvePayment(db, "p-bal-3", "unpaid", "ops", "second decision"), "resolved once");
    const after = await loadBalances(db, p);
    assert.equal(after.map((b) => [b.paidWei, b.inFlightWei, b.blockedReason]), [
      ["300000000000000000000", "1", null],
      ["200", "0", null],
    ]);
    const audit = await listAudit(db, p);
    assert.equal(audit.filter((a) => a.paymentId === "p-bal-3").map((a) => [a.event, a.toStatus]), [["wal_written", "signed"], ["ambiguous", "ambiguous"], ["resolved", "resolved_paid"]]);
    const ledger = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM payment_ledger WHERE partition_id = $1`, [p]);
    assert.is(ledger.rows[0].n, "2");
  });

  // Review item 3: two hosts sharing one database with different CHAIN_IDs both passed the
  // read-only check on an empty WAL and could both pay.
  t("the first WAL write claims the database's chain; a payment of another chain is refused, also when two first writers race", async () => {
    const own = await engine.create();
    try {
      const db = own.db;
      await migrate(db);
      assert.equal([await foreignChainProblem(db, "31337"), await foreignChainProblem(db, "42161"), await claimedChain(db)], [null, null, null], "an empty database is of no chain yet");
      const l1 = (await acquireLease(db, "p-one", "host-1", "r1", 0, 10_000)) as LeaseToken;
      const l2 = (await acquireLease(db, "p-two", "host-2", "r2", 0, 10_000)) as LeaseToken;
      const onDev = entry("p-one-1", "p-one", W1, "100", 0);
      const onArbitrum = { ...entry("p-two-1", "p-two", W2, "100", 0), chainId: "42161" };
      // Both hosts' first payments at once, each of its own chain: exactly one is recorded.
      const [r1, r2] = await Promise.all([writeWalEntry(db, onDev, l1, 1), writeWalEntry(db, onArbitrum, l2, 1)]);
      assert.equal([r1.type, r2.type].sort(), ["committed", "wrong_chain"]);
      const [won, lost] = r1.type === "committed" ? [onDev, onArbitrum] : [onArbitrum, onDev];
      const refused = (r1.type === "committed" ? r2 : r1) as { type: "wrong_chain"; reason: string };
      assert.is(refused.reason, `this database's payments are on chain ${won.chainId} (payment_chain); payment ${lost.paymentId} is on chain ${lost.chainId} (CHAIN_ID): not recorded, nothing sent`);
      assert.is(await claimedChain(db), won.chainId);
      assert.is(await getWalEntry(db, lost.paymentId), null);
      assert.equal((await listWalEntries(db, won.partitionId)).map((w) => w.chainId), [won.chainId]);
      // Later writes of the losing chain stay refused; the claiming chain goes on.
      const lostLease = won === onDev ? l2 : l1;
      assert.is((await writeWalEntry(db, { ...lost, paymentId: `${lost.paymentId}-again`, nonce: 7, txHash: "0xagain" }, lostLease, 2)).type, "wrong_chain");
      const wonLease = won === onDev ? l1 : l2;
      assert.is((await writeWalEntry(db, { ...won, paymentId: `${won.paymentId}-next`, nonce: 1, txHash: "0xnext" }, wonLease, 2)).type, "committed");
      // The run's read-only check refuses the other chain, from the WAL and, with no WAL row left, from the claim.
      assert.match((await foreignChainProblem(db, lost.chainId))!, `this database holds payments made on another chain (2 on chain ${won.chainId}`);
      await db.query("DELETE FROM payment_wal");
      assert.is(
        await foreignChainProblem(db, lost.chainId),
        `this database's payments are on chain ${won.chainId} (claimed by its first payment, payment_chain); this run pays on chain ${lost.chainId} (CHAIN_ID), so nothing is paid: use a database of chain ${lost.chainId}, or set CHAIN_ID and ETH_RPC_ENDPOINT to chain ${won.chainId}`,
      );
      assert.is(await foreignChainProblem(db, won.chainId), null);
    } finally {
      await own.drop();
    }
  });

  t("the 0303 migration claims a database that paid on one chain only", async () => {
    for (const [chains, claimed] of [[["31337"], "31337"], [["31337", "42161"], null], [[], null]] as const) {
      const own = await engine.create();
      try {
        await migrate(own.db, { maxVersion: 302 });
        for (const [i, chain] of chains.entries()) {
          await own.db.query(
            `INSERT INTO payment_wal (payment_id, run_id, partition_id, eth_address, amount_wei, from_address, chain_id, nonce,
               max_fee_per_gas, max_priority_fee_per_gas, gas_limit, raw_tx, tx_hash, status)
             VALUES ($1, 'r', 'p', $2, 100, $3, $4, $5, 1, 1, 21000, '0x02', $6, 'credited')`,
            [`pay-${i}`, W1, PAYER, chain, i, `0xh${i}`],
          );
        }
        await migrate(own.db);
        assert.is(await claimedChain(own.db), claimed, `payments on ${chains.join(", ") || "no chain"}`);
      } finally {
        await own.drop();
      }
    }
  });

  test.after(() => fx.drop());
}

test.run();
