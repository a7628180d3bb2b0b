/**
 * Payment tables (db/migrations/0300_payments.sql): WAL, paid ledger, run lease, runs, audit;
 * the chain the database pays on (0303_payment_chain.sql).
 * Every write that changes a payment's status also appends its audit row in the same
 * transaction, and every write is idempotent (safe to repeat after a crash).
 * Reads the fee ledger `worker_fee_ledger` written by the worker-partition actor.
 */
import type { Db, Queryable } from "../../../db/db.ts";

export const OPEN_STATUSES = ["signed", "broadcast"] as const;
export type WalStatus = "signed" | "broadcast" | "credited" | "reverted" | "ambiguous" | "resolved_paid" | "resolved_unpaid";

export interface WalEntry {
  paymentId: string;
  runId: string;
  partitionId: string;
  ethAddress: string;
  amountWei: string;
  fromAddress: string;
  chainId: string;
  nonce: number;
  maxFeePerGas: string;
  maxPriorityFeePerGas: string;
  gasLimit: string;
  rawTx: string;
  txHash: string;
  status: WalStatus;
  blockNumber: number | null;
  note: string | null;
}

export interface LeaseToken {
  partitionId: string;
  owner: string;
  version: number;
}

export interface AuditRecord {
  partitionId: string;
  runId?: string | null;
  paymentId?: string | null;
  event: string;
  fromStatus?: string | null;
  toStatus?: string | null;
  detail?: Record<string, unknown>;
}

interface WalRow {
  payment_id: string; run_id: string; partition_id: string; eth_address: string; amount_wei: string; from_address: string;
  chain_id: string; nonce: string; max_fee_per_gas: string; max_priority_fee_per_gas: string; gas_limit: string;
  raw_tx: string; tx_hash: string; status: WalStatus; block_number: string | null; note: string | null;
}

function toEntry(r: WalRow): WalEntry {
  return {
    paymentId: r.payment_id, runId: r.run_id, partitionId: r.partition_id, ethAddress: r.eth_address, amountWei: String(r.amount_wei),
    fromAddress: r.from_address, chainId: String(r.chain_id), nonce: Number(r.nonce), maxFeePerGas: String(r.max_fee_per_gas),
    maxPriorityFeePerGas: String(r.max_priority_fee_per_gas), gasLimit: String(r.gas_limit), rawTx: r.raw_tx, txHash: r.tx_hash,
    status: r.status, blockNumber: r.block_number === null ? null : Number(r.block_number), note: r.note,
  };
}

const WAL_COLUMNS = `payment_id, run_id, partition_id, eth_address, amount_wei::text AS amount_wei, from_address, chain_id::text AS chain_id,
  nonce::text AS nonce, max_fee_per_gas::text AS max_fee_per_gas, max_priority_fee_per_gas::text AS max_priority_fee_per_gas,
  gas_limit::text AS gas_limit, raw_tx, tx_hash, status, block_number::text AS block_number, note`;

export async function appendAudit(q: Queryable, a: AuditRecord): Promise<void> {
  await q.query(
    `INSERT INTO payment_audit (partition_id, run_id, payment_id, event, from_status, to_status, detail) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)`,
    [a.partitionId, a.runId ?? null, a.paymentId ?? null, a.event, a.fromStatus ?? null, a.toStatus ?? null, JSON.stringify(a.detail ?? {})],
  );
}

/**
 * Chain ids other than `chainId` that this database's payments were made on (any partition,
 * any status), with how many payments each: empty when every payment is on `chainId`.
 */
export async function foreignChainPayments(q: Queryable, chainId: string): Promise<{ chainId: string; payments: number }[]> {
  const res = await q.query<{ chain_id: string; n: string }>(
    "SELECT chain_id::text AS chain_id, count(*)::text AS n FROM payment_wal WHERE chain_id <> $1 GROUP BY chain_id ORDER BY chain_id",
    [chainId],
  );
  return res.rows.map((r) => ({ chainId: r.chain_id, payments: Number(r.n) }));
}

/**
 * Why a run on `chainId` must not pay from this database, or null. What the paid ledger holds
 * was paid on the chain of its WAL entry; amounts paid on one chain say nothing of another. Were
 * they counted, a database that paid on the embedded dev chain (31337) and then pointed at a
 * real one would never pay those amounts; were they not, switching between two real chains would
 * pay them twice. Neither is for the run to decide.
 */
export async function foreignChainProblem(q: Queryable, chainId: string): Promise<string | null> {
  const foreign = await foreignChainPayments(q, chainId);
  if (foreign.length > 0) {
    const list = foreign.map((f) => `${f.payments} on chain ${f.chainId}${f.chainId === "31337" ? " (the embedded dev chain)" : ""}`).join(", ");
    return `this database holds payments made on another chain (${list}); this run pays on chain ${chainId} (CHAIN_ID). Amounts paid on one chain do not count on another, so nothing is paid: use a database whose payments are on chain ${chainId} (for the embedded dev chain's throw-away payments, a fresh STRATA_DATA_DIR or DATABASE_URL), or set CHAIN_ID and ETH_RPC_ENDPOINT to that chain`;
  }
  const claimed = await claimedChain(q);
  if (claimed !== null && claimed !== chainId) {
    return `this database's payments are on chain ${claimed} (claimed by its first payment, payment_chain); this run pays on chain ${chainId} (CHAIN_ID), so nothing is paid: use a database of chain ${chainId}, or set CHAIN_ID and ETH_RPC_ENDPOINT to chain ${claimed}`;
  }
  return null;
}

/** The chain this database's payments are on (`payment_chain`, claimed by the first WAL write); null before any. */
export async function claimedChain(q: Queryable): Promise<string | null> {
  const res = await q.query<{ chain_id: string }>("SELECT chain_id::text AS chain_id FROM payment_chain");
  return res.rowCount === 0 ? null : res.rows[0].chain_id;
}

/** Per worker of the partition: earned (fee ledger), paid (paid ledger), in flight and blocked (WAL). */
export async function loadBalances(q: Queryable, partitionId: string): Promise<import("./unpaid.ts").WorkerBalance[]> {
  const res = await q.query<{ eth_address: string; earned: string; paid: string; in_flight: string; blocked: string | null }>(
    `WITH earned AS (
       SELECT lower(eth_address) AS a, min(eth_address) AS eth_address, sum(earned_wei) AS earned
       FROM worker_fee_ledger WHERE partition_id = $1 GROUP BY 1),
     paid AS (
       SELECT lower(eth_address) AS a, sum(amount_wei) AS paid FROM payment_ledger WHERE partition_id = $1 GROUP BY 1),
     wal AS (
       SELECT lower(eth_address) AS a,
              sum(amount_wei) FILTER (WHERE status IN ('signed', 'broadcast', 'ambiguous', 'reverted')) AS in_flight,
              string_agg(payment_id || ' is ' || status, ', ' ORDER BY payment_id) FILTER (WHERE status IN ('ambiguous', 'reverted')) AS blocked
       FROM payment_wal WHERE partition_id = $1 GROUP BY 1)
     SELECT e.eth_address, e.earned::text AS earned, coalesce(p.paid, 0)::text AS paid, coalesce(w.in_flight, 0)::text AS in_flight, w.blocked
     FROM earned e LEFT JOIN paid p ON p.a = e.a LEFT JOIN wal w ON w.a = e.a ORDER BY e.a`,
    [partitionId],
  );
  return res.rows.map((r) => ({
    ethAddress: r.eth_address,
    earnedWei: r.earned,
    paidWei: r.paid,
    inFlightWei: r.in_flight,
    blockedReason: r.blocked === null ? null : `needs a person: ${r.blocked}`,
  }));
}

/**
 * Highest nonce of this payer in the WAL, any status (null when none). Every WAL nonce is or
 * will be consumed on chain: open entries are broadcast (or re-broadcast by recovery), closed
 * ones were mined, ambiguous ones were taken by another transaction. So a new payment never
 * takes a nonce at or below it, even while another partition's payment is between steps.
 */
export async function maxWalNonce(q: Queryable, fromAddress: string, chainId: string): Promise<number | null> {
  const res = await q.query<{ n: string | null }>(
    `SELECT max(nonce)::text AS n FROM payment_wal WHERE lower(from_address) = lower($1) AND chain_id = $2`,
    [fromAddress, chainId],
  );
  return res.rows[0]?.n == null ? null : Number(res.rows[0].n);
}

export type WalWriteResult =
  | { type: "committed" }
  | { type: "nonce_taken" }
  | { type: "lease_lost"; reason: string }
  /** The database's payments are on another chain (`payment_chain`): nothing written, nothing to send. */
  | { type: "wrong_chain"; reason: string };

/**
 * Write the WAL entry (status `signed`) and COMMIT, fenced by the run's lease. Repeating the
 * write of the same signed transaction is a no-op; a nonce not above every WAL nonce of the
 * payer (or held by another open entry, for concurrent writers) is refused: prepare again.
 * The first write claims the database for its chain (`payment_chain`); a write of another chain
 * is refused (`wrong_chain`), also when two first writers of different chains race.
 */
export async function writeWalEntry(db: Db, e: Omit<WalEntry, "status" | "blockNumber" | "note">, lease: LeaseToken, nowMs: number): Promise<WalWriteResult> {
  return db.transaction(async (tx) => {
    const held = await tx.query(
      `SELECT 1 FROM payment_run_lease WHERE partition_id = $1 AND owner = $2 AND version = $3 AND expires_at_ms > $4 FOR UPDATE`,
      [lease.partitionId, lease.owner, lease.version, nowMs],
    );
    if (held.rowCount === 0) return { type: "lease_lost", reason: `payment run lease of ${lease.partitionId} (version ${lease.version}) is no longer held by ${lease.owner}; nothing sent` } as const;
    const existing = await tx.query<{ tx_hash: string }>(`SELECT tx_hash FROM payment_wal WHERE payment_id = $1`, [e.paymentId]);
    if (existing.rowCount > 0) {
      if (existing.rows[0].tx_hash === e.txHash) return { type: "committed" } as const;
      return { type: "lease_lost", reason: `payment ${e.paymentId} already has transaction ${existing.rows[0].tx_hash}; refusing to record ${e.txHash}` } as const;
    }
    // A nonce at or below one already in the WAL is (or will be) consumed on chain: take a new one.
    const max = await tx.query<{ n: string | null }>(
      `SELECT max(nonce)::text AS n FROM payment_wal WHERE lower(from_address) = lower($1) AND chain_id = $2`,
      [e.fromAddress, e.chainId],
    );
    if (max.rows[0]?.n != null && Number(max.rows[0].n) >= e.nonce) return { type: "nonce_taken" } as const;
    // One chain per database. A concurrent first claim waits on the key until the other commits;
    // the next statement reads the committed row (read committed: a new snapshot per statement).
    await tx.query("INSERT INTO payment_chain (singleton, chain_id) VALUES (true, $1) ON CONFLICT (singleton) DO NOTHING", [e.chainId]);
    const claimed = await claimedChain(tx);
    if (claimed !== e.chainId) {
      return { type: "wrong_chain", reason: `this database's payments are on chain ${claimed} (payment_chain); payment ${e.paymentId} is on chain ${e.chainId} (CHAIN_ID): not recorded, nothing sent` } as const;
    }
    const ins = await tx.query(
      `INSERT INTO payment_wal (payment_id, run_id, partition_id, eth_address, amount_wei, from_address, chain_id, nonce,
         max_fee_per_gas, max_priority_fee_per_gas, gas_limit, raw_tx, tx_hash, status)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'signed') ON CONFLICT DO NOTHING`,
      [e.paymentId, e.runId, e.partitionId, e.ethAddress, e.amountWei, e.fromAddress, e.chainId, e.nonce, e.maxFeePerGas, e.maxPriorityFeePerGas, e.gasLimit, e.rawTx, e.txHash],
    );
    if (ins.rowCount === 0) return { type: "nonce_taken" } as const;
    await appendAudit(tx, {
      partitionId: e.partitionId, runId: e.runId, paymentId: e.paymentId, event: "wal_written", toStatus: "signed",
      detail: { ethAddress: e.ethAddress, amountWei: e.amountWei, nonce: e.nonce, txHash: e.txHash, maxFeePerGas: e.maxFeePerGas, maxPriorityFeePerGas: e.maxPriorityFeePerGas, gasLimit: e.gasLimit, chainId: e.chainId },
    });
    return { type: "committed" } as const;
  });
}

export async function getWalEntry(q: Queryable, paymentId: string): Promise<WalEntry | null> {
  const res = await q.query<WalRow>(`SELECT ${WAL_COLUMNS} FROM payment_wal WHERE payment_id = $1`, [paymentId]);
  return res.rowCount === 0 ? null : toEntry(res.rows[0]);
}

export async function listWalEntries(q: Queryable, partitionId: string, statuses?: readonly WalStatus[]): Promise<WalEntry[]> {
  const res = statuses
    ? await q.query<WalRow>(`SELECT ${WAL_COLUMNS} FROM payment_wal WHERE partition_id = $1 AND status = ANY($2::text[]) ORDER BY created_at, payment_id`, [partitionId, statuses])
    : await q.query<WalRow>(`SELECT ${WAL_COLUMNS} FROM payment_wal WHERE partition_id = $1 ORDER BY created_at, payment_id`, [partitionId]);
  return res.rows.map(toEntry);
}

/** Change a status when it is one of `from`; returns false (and writes nothing) otherwise. */
async function transitionStatus(
  db: Db,
  paymentId: string,
  from: readonly WalStatus[],
  to: WalStatus,
  event: string,
  opts: { blockNumber?: number | null; note?: string | null; credit?: boolean; detail?: Record<string, unknown> } = {},
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const cur = await tx.query<WalRow>(`SELECT ${WAL_COLUMNS} FROM payment_wal WHERE payment_id = $1 FOR UPDATE`, [paymentId]);
    if (cur.rowCount === 0) throw new Error(`payment ${paymentId} has no WAL entry`);
    const e = toEntry(cur.rows[0]);
    if (!from.includes(e.status)) return false;
    await tx.query(
      `UPDATE payment_wal SET status = $2, block_number = coalesce($3, block_number), note = coalesce($4, note), updated_at = now() WHERE payment_id = $1`,
      [paymentId, to, opts.blockNumber ?? null, opts.note ?? null],
    );
    if (opts.credit) {
      await tx.query(
        `INSERT INTO payment_ledger (payment_id, partition_id, eth_address, amount_wei, tx_hash, block_number) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (payment_id) DO NOTHING`,
        [e.paymentId, e.partitionId, e.ethAddress, e.amountWei, e.txHash, opts.blockNumber ?? e.blockNumber],
      );
    }
    await appendAudit(tx, {
      partitionId: e.partitionId, runId: e.runId, paymentId, event, fromStatus: e.status, toStatus: to,
      detail: { txHash: e.txHash, ...(opts.blockNumber != null ? { blockNumber: opts.blockNumber } : {}), ...(opts.note ? { note: opts.note } : {}), ...opts.detail },
    });
    return true;
  });
}

export const markBroadcast = (db: Db, paymentId: string, source = "run"): Promise<boolean> =>
  transitionStatus(db, paymentId, ["signed"], "broadcast", "broadcast", { detail: { source } });

/** Credit the paid ledger and close the WAL entry, in one transaction. False when already closed. */
export const creditPayment = (db: Db, paymentId: string, blockNumber: number, source = "run"): Promise<boolean> =>
  transitionStatus(db, paymentId, ["signed", "broadcast", "ambiguous"], "credited", "credited", { blockNumber, credit: true, detail: { source } });

export const markReverted = (db: Db, paymentId: string, blockNumber: number): Promise<boolean> =>
  transitionStatus(db, paymentId, ["signed", "broadcast"], "reverted", "reverted", { blockNumber, note: "mined with status 0: nothing transferred; worker blocked until a person resolves it" });

export const markAmbiguous = (db: Db, paymentId: string, note: string): Promise<boolean> =>
  transitionStatus(db, paymentId, ["signed", "broadcast"], "ambiguous", "ambiguous", { note });

/** A person's decision on an ambiguous or reverted payment: paid (credited) or unpaid (owed again). */
export const resolvePayment = (db: Db, paymentId: string, decision: "paid" | "unpaid", by: string, note: string): Promise<boolean> =>
  transitionStatus(db, paymentId, ["ambiguous", "reverted"], decision === "paid" ? "resolved_paid" : "resolved_unpaid", "resolved", {
    credit: decision === "paid",
    note: `${decision} by ${by}: ${note}`,
    detail: { by, decision },
  });

// ── lease ────────────────────────────────────────────────────────────────────────────────────

/** Take the partition's run lease if free or expired (compare-and-set). Null when held by another. */
export async function acquireLease(q: Queryable, partitionId: string, owner: string, runId: string, nowMs: number, ttlMs: number): Promise<LeaseToken | null> {
  const res = await q.query<{ version: string }>(
    `INSERT INTO payment_run_lease (partition_id, owner, run_id, version, expires_at_ms) VALUES ($1, $2, $3, 1, $4)
     ON CONFLICT (partition_id) DO UPDATE SET owner = EXCLUDED.owner, run_id = EXCLUDED.run_id,
       version = payment_run_lease.version + 1, expires_at_ms = EXCLUDED.expires_at_ms
     WHERE payment_run_lease.expires_at_ms <= $5
     RETURNING version::text AS version`,
    [partitionId, owner, runId, nowMs + ttlMs, nowMs],
  );
  return res.rowCount === 0 ? null : { partitionId, owner, version: Number(res.rows[0].version) };
}

export async function renewLease(q: Queryable, lease: LeaseToken, nowMs: number, ttlMs: number): Promise<boolean> {
  const res = await q.query(
    `UPDATE payment_run_lease SET expires_at_ms = $4 WHERE partition_id = $1 AND owner = $2 AND version = $3 AND expires_at_ms > $5`,
    [lease.partitionId, lease.owner, lease.version, nowMs + ttlMs, nowMs],
  );
  return res.rowCount > 0;
}

export async function releaseLease(q: Queryable, lease: LeaseToken): Promise<void> {
  await q.query(`UPDATE payment_run_lease SET expires_at_ms = 0 WHERE partition_id = $1 AND owner = $2 AND version = $3`, [lease.partitionId, lease.owner, lease.version]);
}

/** When the partition's run lease expires (ms on the hosts' clocks); null when it was never taken. 0 = released. */
export async function leaseExpiresAt(q: Queryable, partitionId: string): Promise<number | null> {
  const res = await q.query<{ expires: string }>(`SELECT expires_at_ms::text AS expires FROM payment_run_lease WHERE partition_id = $1`, [partitionId]);
  return res.rowCount === 0 ? null : Number(res.rows[0].expires);
}

// ── runs ─────────────────────────────────────────────────────────────────────────────────────

export interface RunRow {
  runId: string;
  partitionId: string;
  status: "running" | "done" | "stopped";
  phase: string;
  snapshot: unknown;
  stopReason: string | null;
}

export async function saveRun(q: Queryable, r: RunRow & { trigger: string }): Promise<void> {
  await q.query(
    `INSERT INTO payment_runs (run_id, partition_id, trigger, status, phase, snapshot, stop_reason) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)
     ON CONFLICT (run_id) DO UPDATE SET status = EXCLUDED.status, phase = EXCLUDED.phase, snapshot = EXCLUDED.snapshot,
       stop_reason = EXCLUDED.stop_reason, updated_at = now()`,
    [r.runId, r.partitionId, r.trigger, r.status, r.phase, JSON.stringify(r.snapshot), r.stopReason],
  );
}

/** The unfinished run of a partition (a host died during it), to resume from its snapshot. */
export async function findRunningRun(q: Queryable, partitionId: string): Promise<(RunRow & { trigger: string }) | null> {
  const res = await q.query<{ run_id: string; partition_id: string; trigger: string; status: RunRow["status"]; phase: string; snapshot: unknown; stop_reason: string | null }>(
    `SELECT run_id, partition_id, trigger, status, phase, snapshot, stop_reason FROM payment_runs WHERE partition_id = $1 AND status = 'running' ORDER BY started_at LIMIT 1`,
    [partitionId],
  );
  if (res.rowCount === 0) return null;
  const r = res.rows[0];
  const snapshot = typeof r.snapshot === "string" ? JSON.parse(r.snapshot) : r.snapshot;
  return { runId: r.run_id, partitionId: r.partition_id, trigger: r.trigger, status: r.status, phase: r.phase, snapshot, stopReason: r.stop_reason };
}

export async function listAudit(q: Queryable, partitionId: string): Promise<{ paymentId: string | null; event: string; fromStatus: string | null; toStatus: string | null; detail: Record<string, unknown> }[]> {
  const res = await q.query<{ payment_id: string | null; event: string; from_status: string | null; to_status: string | null; detail: unknown }>(
    `SELECT payment_id, event, from_status, to_status, detail FROM payment_audit WHERE partition_id = $1 ORDER BY id`,
    [partitionId],
  );
  return res.rows.map((r) => ({ paymentId: r.payment_id, event: r.event, fromStatus: r.from_status, toStatus: r.to_status, detail: (typeof r.detail === "string" ? JSON.parse(r.detail) : r.detail) as Record<string, unknown> }));
}

/** Sum of the paid ledger per worker (lower-case address → wei). */
export async function paidTotals(q: Queryable, partitionId: string): Promise<Map<string, bigint>> {
  const res = await q.query<{ a: string; paid: string }>(`SELECT lower(eth_address) AS a, sum(amount_wei)::text AS paid FROM payment_ledger WHERE partition_id = $1 GROUP BY 1`, [partitionId]);
  return new Map(res.rows.map((r) => [r.a, BigInt(r.paid)]));
}
