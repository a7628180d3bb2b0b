/**
 * Crash tests (issue 5): a payment host process killed with SIGKILL at each phase boundary — after
 * the WAL commit, after broadcast, after the receipt, before the credit — and at random points
 * across a run of 20 payments, then restarted; in the end exactly one on-chain transfer per
 * payment, no payment lost, and a paid ledger that matches the chain.
 * Regression for seed 003 defect 4 (no idempotency on blockchain payments).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import process from "node:process";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { listWalEntries, paidTotals } from "../../../actors/worker-partition/payments/payment-store.ts";
import { ETH, paymentFixture, randomAddress } from "./support.ts";
import type { PaymentFixture } from "./support.ts";

const HOST = fileURLToPath(new URL("./payment-host.ts", import.meta.url));
const isDeno = "Deno" in globalThis;

interface HostResult {
  signal: string | null;
  code: number | null;
  report: { outcome: string; stopReason?: string | null; results?: { outcome: string }[] } | null;
  stderr: string;
}

interface WarmHost {
  run(args: Record<string, unknown>): Promise<HostResult>;
}

/** Start a host process that loads its modules and waits for its arguments on stdin. */
function warmHost(): WarmHost {
  const [cmd, argv] = isDeno ? [process.execPath, ["run", "-A", HOST]] : [process.execPath, ["--import", "tsx", HOST]];
  const child = spawn(cmd, argv, { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += String(d)));
  child.stderr!.on("data", (d) => (err += String(d)));
  const ended = new Promise<HostResult>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => {
      const line = out.trim().split("\n").pop();
      resolve({ code, signal, stderr: err, report: line ? JSON.parse(line) : null });
    });
  });
  return {
    run(args) {
      child.stdin!.end(JSON.stringify(args) + "\n");
      return ended;
    },
  };
}

/** Hosts run one after another; the next one is already loading while the current one runs. */
function hostPool(): { run(args: Record<string, unknown>): Promise<HostResult>; close(): Promise<void> } {
  let next = warmHost();
  let closed = false;
  return {
    run(args) {
      const current = next;
      next = warmHost();
      return current.run(args);
    },
    async close() {
      if (closed) return;
      closed = true;
      // The spare host gets arguments that make it exit at once (empty partition of a closed db is not touched).
      await next.run({ exitNow: true }).catch(() => undefined);
    },
  };
}

function hostArgs(fx: PaymentFixture, url: string, n: number, kill: { killAtStep?: number; killAfterMs?: number; killAt?: { phase: string; when: string; event: string } }) {
  // Each incarnation starts an hour after the previous one: past its lease (60 s, renewed at every step).
  return { dbUrl: url, rpcUrl: fx.anvil.url, partition: fx.partition, owner: `host-${n}`, clockStartMs: 1_700_000_000_000 + n * 3_600_000, ...kill };
}

async function assertPaidExactlyOnce(fx: PaymentFixture, workers: { address: string; earned: bigint }[]): Promise<void> {
  const paid = await paidTotals(fx.db, fx.partition);
  for (const w of workers) {
    assert.is(await fx.balance(w.address), w.earned, `chain balance of ${w.address}`);
    assert.is(paid.get(w.address.toLowerCase()), w.earned, `ledger of ${w.address}`);
  }
  assert.is(await fx.rpc.nonce(fx.payer.address, "latest"), workers.length, "exactly one transfer per payment");
  const wal = await listWalEntries(fx.db, fx.partition);
  assert.is(wal.length, workers.length);
  assert.ok(wal.every((e) => e.status === "credited"), "every WAL entry closed");
}

async function setup(count: number): Promise<{ fx: PaymentFixture; url: string; workers: { address: string; earned: bigint }[] }> {
  const fx = await paymentFixture();
  const workers = Array.from({ length: count }, (_, i) => ({ address: randomAddress(), earned: ETH / 100n + BigInt(i) * 10n ** 15n }));
  for (const w of workers) await fx.earn(w.address, w.earned);
  return { fx, url: fx.dbUrl, workers };
}

// The phase boundaries of the first payment: the intent performed (WAL committed, transaction
// sent, receipt seen) but its result not yet recorded, or the crediting phase persisted but not done.
for (const point of [
  { name: "after the WAL commit", killAt: { phase: "recordingWal", when: "after-perform", event: "WAL_COMMITTED" } },
  { name: "after broadcast", killAt: { phase: "broadcasting", when: "after-perform", event: "BROADCAST_ACCEPTED" } },
  { name: "after the receipt", killAt: { phase: "awaitingReceipt", when: "after-perform", event: "RECEIPT" } },
  { name: "before the credit", killAt: { phase: "crediting", when: "after-persist", event: "RECEIPT" } },
]) {
  test(`payments crash - SIGKILL ${point.name} then restart: one transfer per payment, ledger matches chain`, async () => {
    const { fx, url, workers } = await setup(2);
    const hosts = hostPool();
    try {
      const killed = await hosts.run(hostArgs(fx, url, 1, { killAt: point.killAt }));
      assert.is(killed.signal, "SIGKILL", killed.stderr);
      assert.is(killed.report, null);
      // Restart until a run finds nothing left (a lagging receipt may leave a payment open for the next one).
      let clean = false;
      for (let n = 2; n < 7 && !clean; n++) {
        const r = await hosts.run(hostArgs(fx, url, n, {}));
        assert.is(r.code, 0, r.stderr);
        assert.ok(r.report!.outcome === "done" || /receipt not seen after all polls/.test(r.report!.stopReason ?? ""), r.report!.stopReason ?? "");
        clean = r.report!.outcome === "done" && (r.report!.results ?? []).length === 0;
      }
      assert.ok(clean, "a run finds nothing unpaid");
      await assertPaidExactlyOnce(fx, workers);
    } finally {
      await hosts.close();
      await fx.close();
    }
  });
}

test("payments crash - 100 random kill points across runs of 20 payments: zero double, zero lost", async () => {
  const { fx, url, workers } = await setup(20);
  const hosts = hostPool();
  try {
    let kills = 0;
    let n = 0;
    let rounds = 1;
    // A run of 20 payments has ~250 phase boundaries. Each host dies after a few of them, or after
    // a random few real milliseconds (inside a transaction, between a broadcast and its WAL
    // update, during recovery, …), so the 100 deaths are spread across the run itself.
    while (kills < 100) {
      n++;
      const kill = n % 2 === 0 ? { killAtStep: 1 + Math.floor(Math.random() * 6) } : { killAfterMs: Math.floor(Math.random() * 250) };
      const r = await hosts.run(hostArgs(fx, url, n, kill));
      if (r.signal === "SIGKILL") kills++;
      else {
        assert.is(r.code, 0, r.stderr);
        // The host's simulated clock makes the 2/4/8 s receipt backoff instant: a receipt that
        // lags leaves the payment open (never failed) for the next host to reconcile.
        assert.ok(r.report!.outcome === "done" || /receipt not seen after all polls/.test(r.report!.stopReason ?? ""), r.report!.stopReason ?? "");
      }
      // When this round is paid in full, every worker earns more and the next round of 20 begins.
      const wal = await listWalEntries(fx.db, fx.partition);
      assert.ok(wal.length <= 20 * rounds, `at most one payment per worker per round (${wal.length} entries in round ${rounds})`);
      if (wal.length === 20 * rounds && wal.every((e) => e.status === "credited") && kills < 100) {
        for (const w of workers) {
          w.earned += ETH / 100n;
          await fx.earn(w.address, w.earned);
        }
        rounds++;
      }
    }
    // Restart without killing until a run finds nothing left to pay.
    let clean = false;
    for (let i = 0; i < 5 && !clean; i++) {
      n++;
      const r = await hosts.run(hostArgs(fx, url, n, {}));
      assert.is(r.code, 0, r.stderr);
      assert.ok(r.report!.outcome !== "stopped" || /receipt not seen after all polls/.test(r.report!.stopReason ?? ""), r.report!.stopReason ?? "");
      clean = r.report!.outcome === "done" && (r.report!.results ?? []).length === 0;
    }
    assert.ok(clean, "a final run finds nothing unpaid");
    const paid = await paidTotals(fx.db, fx.partition);
    for (const w of workers) {
      assert.is(await fx.balance(w.address), w.earned, `chain balance of ${w.address}`);
      assert.is(paid.get(w.address.toLowerCase()), w.earned, `ledger of ${w.address}`);
    }
    assert.is(await fx.rpc.nonce(fx.payer.address, "latest"), 20 * rounds, "exactly one transfer per payment");
    const wal = await listWalEntries(fx.db, fx.partition);
    assert.is(wal.length, 20 * rounds);
    assert.ok(wal.every((e) => e.status === "credited"), "every WAL entry closed");
    console.log(`payments crash: ${kills} kills over ${n} host processes, ${rounds} rounds of 20 payments`);
  } finally {
    await hosts.close();
    await fx.close();
  }
});

test.run();
