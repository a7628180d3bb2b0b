/**
 * Payments against a real anvil chain and a real Postgres (seed 003 defects 1, 4, 15, 16, 19, 21).
 * Each test has its own chain and database.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Wallet } from "ethers";
import { runPayments } from "../../../actors/worker-partition/payments/payment-run.ts";
import { listAudit, listWalEntries, paidTotals, resolvePayment } from "../../../actors/worker-partition/payments/payment-store.ts";
import { DEV_ACCOUNTS } from "../../support/anvil.ts";
import { ETH, paymentFixture, randomAddress, settle } from "./support.ts";

test("payments - a normal payment moves exactly the unpaid amount, then only the new unpaid part", async () => {
  const fx = await paymentFixture();
  try {
    const a = randomAddress();
    const b = randomAddress();
    await fx.earn(a, 3n * ETH / 100n);
    await fx.earn(b, 2n * ETH / 100n);
    const first = await settle(runPayments(fx.deps(), fx.partition, { trigger: "admin" }), fx.clock);
    assert.is(first.outcome, "done");
    assert.is(await fx.balance(a), 3n * ETH / 100n);
    assert.is(await fx.balance(b), 2n * ETH / 100n);
    // Earnings grow by 0.015 ETH for a only: the next run pays exactly that.
    await fx.earn(a, 45n * ETH / 1000n);
    const second = await settle(runPayments(fx.deps(), fx.partition, { trigger: "schedule" }), fx.clock);
    assert.is(second.outcome, "done");
    if (second.outcome === "busy") throw new Error("unexpected");
    assert.equal(second.results.map((r) => [r.ethAddress, r.amountWei, r.outcome]), [[a, (15n * ETH / 1000n).toString(), "credited"]]);
    assert.is(await fx.balance(a), 45n * ETH / 1000n);
    assert.is(await fx.balance(b), 2n * ETH / 100n);
    // Ledger matches chain; WAL closed; three transfers in all.
    const paid = await paidTotals(fx.db, fx.partition);
    assert.is(paid.get(a.toLowerCase()), 45n * ETH / 1000n);
    assert.is(paid.get(b.toLowerCase()), 2n * ETH / 100n);
    const wal = await listWalEntries(fx.db, fx.partition);
    assert.equal(wal.map((w) => w.status), ["credited", "credited", "credited"]);
    assert.is(await fx.rpc.nonce(fx.payer.address, "latest"), 3);
    const audit = await listAudit(fx.db, fx.partition);
    const paymentId = wal[0].paymentId;
    assert.equal(audit.filter((x) => x.paymentId === paymentId).map((x) => [x.event, x.fromStatus, x.toStatus]), [
      ["wal_written", null, "signed"],
      ["broadcast", "signed", "broadcast"],
      ["credited", "broadcast", "credited"],
    ]);
    assert.ok(audit.some((x) => x.event === "run_done"));
  } finally {
    await fx.close();
  }
});

test("payments - under the threshold nothing moves", async () => {
  const fx = await paymentFixture();
  try {
    const a = randomAddress();
    await fx.earn(a, 10n ** 16n - 1n);
    const report = await settle(runPayments(fx.deps(), fx.partition, { trigger: "admin" }), fx.clock);
    assert.is(report.outcome, "done");
    if (report.outcome === "busy") throw new Error("unexpected");
    assert.equal(report.results, []);
    assert.equal(report.skipped.map((s) => [s.ethAddress, s.reason]), [[a, "below_threshold"]]);
    assert.is(await fx.balance(a), 0n);
    assert.is(await fx.rpc.nonce(fx.payer.address, "pending"), 0);
    assert.equal(await listWalEntries(fx.db, fx.partition), []);
    // Exactly at the threshold it pays (inclusive).
    await fx.earn(a, 10n ** 16n);
    await settle(runPayments(fx.deps(), fx.partition, { trigger: "admin" }), fx.clock);
    assert.is(await fx.balance(a), 10n ** 16n);
  } finally {
    await fx.close();
  }
});

test("payments - gas above the cap: no send and a clear reason", async () => {
  const fx = await paymentFixture();
  try {
    const a = randomAddress();
    await fx.earn(a, ETH / 10n);
    const report = await settle(runPayments(fx.deps("host-1", { maxGasPriceWei: "1000" }), fx.partition, { trigger: "admin" }), fx.clock);
    assert.is(report.outcome, "stopped");
    if (report.outcome === "busy") throw new Error("unexpected");
    assert.match(report.stopReason!, /^gas price \d+ wei \(base fee \d+ \+ priority fee \d+\) is above MAX_GAS_PRICE_WEI 1000; nothing sent$/);
    assert.equal(report.results.map((r) => [r.ethAddress, r.outcome]), [[a, "not_sent"]]);
    assert.is(await fx.balance(a), 0n);
    assert.is(await fx.rpc.nonce(fx.payer.address, "pending"), 0);
    assert.equal(await listWalEntries(fx.db, fx.partition), []);
    assert.ok(fx.logLines.some((l) => l.includes("above MAX_GAS_PRICE_WEI 1000") && l.includes('"level":50')), "the reason is logged at error level");
  } finally {
    await fx.close();
  }
});

test("payments - a database holding payments made on another chain pays nothing on this one, and says why", async () => {
  const fx = await paymentFixture();
  try {
    const a = randomAddress();
    await fx.earn(a, 3n * ETH / 100n);
    assert.is((await settle(runPayments(fx.deps(), fx.partition, { trigger: "admin" }), fx.clock)).outcome, "done");
    // The same database (paid on the dev chain, 31337) now pointed at another chain id; earnings grew to 0.08 ETH.
    await fx.earn(a, 8n * ETH / 100n);
    const report = await settle(runPayments(fx.deps("host-1", { chainId: "42161" }), fx.partition, { trigger: "admin" }), fx.clock);
    assert.is(report.outcome, "refused");
    if (report.outcome === "busy") throw new Error("unexpected");
    assert.match(report.stopReason!, /^this database holds payments made on another chain \(1 on chain 31337 \(the embedded dev chain\)\); this run pays on chain 42161 \(CHAIN_ID\)\. Amounts paid on one chain do not count on another, so nothing is paid/);
    assert.match(report.stopReason!, /, or set CHAIN_ID and ETH_RPC_ENDPOINT to that chain$/);
    assert.equal([report.results, report.recovery], [[], []]);
    assert.is(await fx.rpc.nonce(fx.payer.address, "pending"), 1, "nothing sent");
    assert.is((await listWalEntries(fx.db, fx.partition)).length, 1);
    assert.ok((await listAudit(fx.db, fx.partition)).some((x) => x.event === "run_refused" && String(x.detail.reason).includes("chain 31337")));
    // An open entry of the other chain is not judged by this chain (no recovery runs): it stays as it was.
    await fx.db.query("UPDATE payment_wal SET status = 'broadcast' WHERE partition_id = $1", [fx.partition]);
    const refused = await settle(runPayments(fx.deps("host-1", { chainId: "42161" }), fx.partition, { trigger: "admin" }), fx.clock);
    if (refused.outcome === "busy") throw new Error("unexpected");
    assert.equal([refused.outcome, refused.recovery], ["refused", []]);
    assert.equal((await listWalEntries(fx.db, fx.partition)).map((w) => w.status), ["broadcast"]);
    await fx.db.query("UPDATE payment_wal SET status = 'credited' WHERE partition_id = $1", [fx.partition]);
    // Back on the chain the payments were made on, the run pays the new part only.
    const again = await settle(runPayments(fx.deps(), fx.partition, { trigger: "admin" }), fx.clock);
    if (again.outcome === "busy") throw new Error("unexpected");
    assert.equal(again.results.map((r) => [r.amountWei, r.outcome]), [[(5n * ETH / 100n).toString(), "credited"]]);
  } finally {
    await fx.close();
  }
});

for (const point of [
  { name: "while preparing", phase: "preparing", event: "LEDGER_LOADED" },
  { name: "after its fees were decided", phase: "signing", event: "PREPARED" },
] as const) {
  test(`payments - a run saved ${point.name} and resumed under a lower MAX_GAS_PRICE_WEI sends nothing`, async () => {
    const fx = await paymentFixture();
    try {
      const a = randomAddress();
      await fx.earn(a, 2n * ETH / 100n);
      // host-1 saves the run under the old cap and dies.
      const halted = await settle(runPayments(fx.deps("host-1"), fx.partition, { trigger: "schedule", haltAt: (p) => p.phase === point.phase && p.when === "after-persist" && p.event.type === point.event }), fx.clock);
      assert.is(halted.outcome, "halted");
      // The operator lowers the cap below the chain's gas price; host-2 resumes the saved run.
      await fx.clock.advance(61_000);
      const report = await settle(runPayments(fx.deps("host-2", { maxGasPriceWei: "1000" }), fx.partition, { trigger: "admin" }), fx.clock);
      assert.is(report.outcome, "stopped");
      if (report.outcome === "busy") throw new Error("unexpected");
      assert.is(report.resumed, true);
      assert.match(report.stopReason!, /^gas price \d+ wei \(base fee \d+ \+ priority fee \d+\) is above MAX_GAS_PRICE_WEI 1000; nothing sent$/);
      assert.equal(report.results.map((r) => [r.ethAddress, r.outcome]), [[a, "not_sent"]]);
      assert.is(await fx.balance(a), 0n);
      assert.is(await fx.rpc.nonce(fx.payer.address, "pending"), 0);
      assert.equal(await listWalEntries(fx.db, fx.partition), []);
      assert.ok(fx.logLines.some((l) => l.includes("changed: maxGasPriceWei")), "the resume says which settings changed");
    } finally {
      await fx.close();
    }
  });
}

test("payments - a resumed run sends a payment already in the WAL with its signed bytes, and decides the next under the new cap", async () => {
  const fx = await paymentFixture();
  try {
    const [a, b] = [randomAddress(), randomAddress()].sort((x, y) => (x.toLowerCase() < y.toLowerCase() ? -1 : 1));
    await fx.earn(a, 2n * ETH / 100n);
    await fx.earn(b, 3n * ETH / 100n);
    const halted = await settle(runPayments(fx.deps("host-1"), fx.partition, { trigger: "schedule", haltAt: (p) => p.phase === "recordingWal" && p.event.type === "WAL_COMMITTED" }), fx.clock);
    assert.is(halted.outcome, "halted");
    const [recorded] = await listWalEntries(fx.db, fx.partition);
    await fx.clock.advance(61_000);
    const report = await settle(runPayments(fx.deps("host-2", { maxGasPriceWei: "1000" }), fx.partition, { trigger: "admin" }), fx.clock);
    assert.is(report.outcome, "stopped");
    if (report.outcome === "busy") throw new Error("unexpected");
    assert.equal(report.results.map((r) => [r.ethAddress, r.outcome, r.txHash]), [[a, "credited", recorded.txHash], [b, "not_sent", null]]);
    assert.match(report.stopReason!, /above MAX_GAS_PRICE_WEI 1000; nothing sent$/);
    assert.is(await fx.balance(a), 2n * ETH / 100n);
    assert.is(await fx.balance(b), 0n);
    const wal = await listWalEntries(fx.db, fx.partition);
    assert.equal(wal.map((w) => [w.paymentId, w.txHash, w.status]), [[recorded.paymentId, recorded.txHash, "credited"]]);
    assert.is(await fx.rpc.nonce(fx.payer.address, "latest"), 1);
  } finally {
    await fx.close();
  }
});

test("payments - a nonce taken by another transaction becomes ambiguous and blocks that worker only", async () => {
  const fx = await paymentFixture();
  try {
    const [a, b] = [randomAddress(), randomAddress()].sort((x, y) => (x.toLowerCase() < y.toLowerCase() ? -1 : 1));
    await fx.earn(a, 2n * ETH / 100n);
    await fx.earn(b, 3n * ETH / 100n);
    // host-1 commits a's WAL entry (nonce 0) and dies before broadcasting it.
    const halted = await settle(runPayments(fx.deps("host-1"), fx.partition, { trigger: "schedule", haltAt: ({ phase, when }) => phase === "recordingWal" && when === "after-perform" }), fx.clock);
    assert.is(halted.outcome, "halted");
    const [entry] = await listWalEntries(fx.db, fx.partition);
    assert.is(entry.status, "signed");
    assert.is(entry.nonce, 0);
    // Someone else spends nonce 0 of the payer key.
    const other = new Wallet(DEV_ACCOUNTS[0].privateKey);
    const raw = await other.signTransaction({ type: 2, to: DEV_ACCOUNTS[1].address, value: 1n, nonce: 0, chainId: 31337n, gasLimit: 21000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 10n ** 9n });
    const otherHash = await fx.rpc.sendRaw(raw);
    // Wait for the chain (a real process) to mine it.
    for (let i = 0; i < 400 && (await fx.rpc.receipt(otherHash)) === null; i++) await new Promise((r) => setTimeout(r, 5));
    assert.ok(await fx.rpc.receipt(otherHash), "the other transaction is mined");
    // host-2 takes over once host-1's lease has expired.
    await fx.clock.advance(61_000);
    const report = await settle(runPayments(fx.deps("host-2"), fx.partition, { trigger: "schedule" }), fx.clock);
    assert.is(report.outcome, "done");
    if (report.outcome === "busy") throw new Error("unexpected");
    assert.is(report.resumed, true);
    assert.equal(report.recovery.map((r) => [r.ethAddress, r.action, r.action === "unreachable" ? r.detail : ""]), [[a, "ambiguous", ""]]);
    assert.equal(report.results.map((r) => [r.ethAddress, r.outcome]), [[a, "ambiguous"], [b, "credited"]]);
    assert.is(await fx.balance(a), 0n);
    assert.is(await fx.balance(b), 3n * ETH / 100n);
    assert.ok(fx.logLines.some((l) => l.includes("AMBIGUOUS PAYMENT") && l.includes(a) && l.includes('"level":50')), "said loudly");
    // Later runs pay nothing more to a until a person resolves it.
    await fx.earn(a, 5n * ETH / 100n);
    await fx.earn(b, 4n * ETH / 100n);
    const later = await settle(runPayments(fx.deps("host-2"), fx.partition, { trigger: "schedule" }), fx.clock);
    if (later.outcome === "busy") throw new Error("unexpected");
    assert.equal(later.results.map((r) => [r.ethAddress, r.amountWei]), [[b, (ETH / 100n).toString()]]);
    assert.equal(later.skipped.map((s) => [s.ethAddress, s.reason]), [[a, "blocked"]]);
    assert.is(await fx.balance(a), 0n);
    // A person finds it unpaid: a is owed its whole earnings again.
    assert.ok(await resolvePayment(fx.db, entry.paymentId, "unpaid", "ops@pool", "nonce 0 went to a manual transfer"));
    await settle(runPayments(fx.deps("host-2"), fx.partition, { trigger: "admin" }), fx.clock);
    assert.is(await fx.balance(a), 5n * ETH / 100n);
    const paid = await paidTotals(fx.db, fx.partition);
    assert.is(paid.get(a.toLowerCase()), 5n * ETH / 100n);
    assert.is(paid.get(b.toLowerCase()), 4n * ETH / 100n);
  } finally {
    await fx.close();
  }
});

test("payments - a resumed run whose prepared nonce was used meanwhile takes a new one (no false ambiguity)", async () => {
  const fx = await paymentFixture();
  try {
    const a = randomAddress();
    await fx.earn(a, 2n * ETH / 100n);
    // host-1 prepared nonce 0 and died before recording the payment.
    const halted = await settle(runPayments(fx.deps("host-1"), fx.partition, { trigger: "schedule", haltAt: (p) => p.phase === "signing" && p.when === "after-persist" }), fx.clock);
    assert.is(halted.outcome, "halted");
    assert.equal(await listWalEntries(fx.db, fx.partition), []);
    const other = new Wallet(DEV_ACCOUNTS[0].privateKey);
    const hash = await fx.rpc.sendRaw(await other.signTransaction({ type: 2, to: DEV_ACCOUNTS[1].address, value: 1n, nonce: 0, chainId: 31337n, gasLimit: 21000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 10n ** 9n }));
    for (let i = 0; i < 400 && (await fx.rpc.receipt(hash)) === null; i++) await new Promise((r) => setTimeout(r, 5));
    await fx.clock.advance(61_000);
    const report = await settle(runPayments(fx.deps("host-2"), fx.partition, { trigger: "schedule" }), fx.clock);
    assert.is(report.outcome, "done");
    if (report.outcome === "busy") throw new Error("unexpected");
    assert.equal(report.results.map((r) => [r.ethAddress, r.outcome]), [[a, "credited"]]);
    const [entry] = await listWalEntries(fx.db, fx.partition);
    assert.equal([entry.nonce, entry.status], [1, "credited"]);
    assert.is(await fx.balance(a), 2n * ETH / 100n);
  } finally {
    await fx.close();
  }
});

test("payments - two triggers at once give one run", async () => {
  const fx = await paymentFixture();
  try {
    const workers = [randomAddress(), randomAddress(), randomAddress()];
    for (const w of workers) await fx.earn(w, 2n * ETH / 100n);
    const reports = await settle(Promise.all([
      runPayments(fx.deps("host-1"), fx.partition, { trigger: "schedule" }),
      runPayments(fx.deps("host-2"), fx.partition, { trigger: "admin" }),
    ]), fx.clock);
    assert.equal(reports.map((r) => r.outcome).sort(), ["busy", "done"]);
    for (const w of workers) assert.is(await fx.balance(w), 2n * ETH / 100n);
    assert.is(await fx.rpc.nonce(fx.payer.address, "latest"), 3);
    const runs = await fx.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM payment_runs WHERE partition_id = $1`, [fx.partition]);
    assert.is(runs.rows[0].n, "1");
  } finally {
    await fx.close();
  }
});

test("payments - partitions sharing one payer key never collide on a nonce", async () => {
  const fx = await paymentFixture();
  try {
    const partitions = ["ai|us-central", "transcode|us-central", "transcode|us-west", "transcode|eu-central", "transcode|oceania"].map((p) => `${p}-${fx.partition.split("|")[1]}`);
    const workers: { partition: string; address: string }[] = [];
    for (const partition of partitions) {
      for (let i = 0; i < 2; i++) {
        const address = randomAddress();
        workers.push({ partition, address });
        await fx.db.query(`INSERT INTO worker_fee_ledger (partition_id, eth_address, earned_wei) VALUES ($1, $2, $3)`, [partition, address, (2n * ETH / 100n).toString()]);
      }
    }
    const reports = await settle(Promise.all(partitions.map((p, i) => runPayments(fx.deps(`host-${i}`), p, { trigger: "schedule" }))), fx.clock);
    assert.equal(reports.map((r) => r.outcome), ["done", "done", "done", "done", "done"]);
    for (const w of workers) assert.is(await fx.balance(w.address), 2n * ETH / 100n);
    assert.is(await fx.rpc.nonce(fx.payer.address, "latest"), 10);
    const statuses = await fx.db.query<{ status: string; n: string }>(`SELECT status, count(*)::text AS n FROM payment_wal GROUP BY status`);
    assert.equal(statuses.rows, [{ status: "credited", n: "10" }]);
  } finally {
    await fx.close();
  }
});

for (const point of [
  { name: "after the WAL commit", phase: "recordingWal", when: "after-perform", event: "WAL_COMMITTED", recovery: ["rebroadcast"] },
  // Anvil mines right after accepting; the receipt may lag by a moment, so the entry is mined or still in the mempool.
  { name: "after broadcast", phase: "broadcasting", when: "after-perform", event: "BROADCAST_ACCEPTED", recovery: ["credited", "in_flight"] },
  { name: "after the receipt", phase: "awaitingReceipt", when: "after-perform", event: "RECEIPT", recovery: ["credited"] },
  { name: "before the credit", phase: "crediting", when: "after-persist", event: "RECEIPT", recovery: ["credited"] },
] as const) {
  test(`payments - a host stopped ${point.name} and resumed by another pays exactly once`, async () => {
    const fx = await paymentFixture();
    try {
      const a = randomAddress();
      const b = randomAddress();
      await fx.earn(a, 2n * ETH / 100n);
      await fx.earn(b, 3n * ETH / 100n);
      let hits = 0;
      const halted = await settle(runPayments(fx.deps("host-1"), fx.partition, { trigger: "schedule", haltAt: (p) => p.phase === point.phase && p.when === point.when && p.event.type === point.event && ++hits === 1 }), fx.clock);
      assert.is(halted.outcome, "halted");
      // host-1's lease still holds: a trigger now is refused.
      assert.is((await runPayments(fx.deps("host-2"), fx.partition, { trigger: "admin" })).outcome, "busy");
      await fx.clock.advance(61_000);
      const resumed = await settle(runPayments(fx.deps("host-2"), fx.partition, { trigger: "admin" }), fx.clock);
      assert.is(resumed.outcome, "done");
      if (resumed.outcome === "busy") throw new Error("unexpected");
      assert.is(resumed.resumed, true);
      assert.is(resumed.recovery.length, 1);
      assert.ok((point.recovery as readonly string[]).includes(resumed.recovery[0].action), `recovery ${resumed.recovery[0].action}`);
      assert.is(await fx.balance(a), 2n * ETH / 100n);
      assert.is(await fx.balance(b), 3n * ETH / 100n);
      assert.is(await fx.rpc.nonce(fx.payer.address, "latest"), 2, "exactly one transfer per payment");
      const paid = await paidTotals(fx.db, fx.partition);
      assert.is(paid.get(a.toLowerCase()), 2n * ETH / 100n);
      assert.is(paid.get(b.toLowerCase()), 3n * ETH / 100n);
      // A further run finds nothing unpaid.
      const again = await settle(runPayments(fx.deps("host-2"), fx.partition, { trigger: "admin" }), fx.clock);
      if (again.outcome === "busy") throw new Error("unexpected");
      assert.equal(again.results, []);
      assert.is(await fx.rpc.nonce(fx.payer.address, "latest"), 2);
    } finally {
      await fx.close();
    }
  });
}

test.run();
