/**
 * Admin routes for worker-partition payments (issue 5), handed to `startAdminServer({ routes })`:
 *   GET  /payments?partition=P              WAL entries and paid totals (all active partitions without P)
 *   GET  /payments/audit?partition=P        the audit trail
 *   POST /payments/:partition/trigger       one payment run now (mutating; 503 when payments do not run here).
 *                                           200 only for a run that ended `done`; 409 when a run is
 *                                           already in progress or the run was refused (another chain),
 *                                           503 when it stopped before paying everyone (gas cap,
 *                                           balance, RPC): the report is the body in every case
 *   POST /payments/:paymentId/resolve       body {"as": "paid"|"unpaid", "note": "…", "by"?: "…"} (mutating);
 *                                           after the resolution, and before answering, `onResolved`
 *                                           (the host: refresh the partition's worker_summary and its
 *                                           export); its failure is a warning, the answer is unchanged
 * POST routes are mutating: the server asks for the ADMIN_TOKEN bearer (or serves loopback only).
 * A partition in a path is URL-encoded (`ai%7Cus-central`). Amounts are decimal strings of wei.
 */
import type { Logger } from "pino";
import type { Queryable, Db } from "../db/db.ts";
import { listAudit, listWalEntries, paidTotals, resolvePayment, getWalEntry } from "../actors/worker-partition/payments/payment-store.ts";
import type { WalEntry } from "../actors/worker-partition/payments/payment-store.ts";
import type { PaymentRunReport } from "../actors/worker-partition/payments/payment-run.ts";
import { ACTIVE_PARTITIONS, isActivePartition } from "../actors/worker-partition/partitions.ts";
import { errorMessage } from "../protocols/errors.ts";
import type { Route } from "./router.ts";

export interface PartitionPayments {
  partition: string;
  entries: WalEntry[];
  /** Lower-case address → paid wei (decimal string). */
  paidTotals: Record<string, string>;
  /** Entries waiting for a person (ambiguous or reverted). */
  needsResolution: string[];
}

export type PaymentTrigger = (partitionId: string) => Promise<PaymentRunReport>;

export interface PaymentsRoutesOptions {
  db: Db;
  /** Runs one payment run of a partition; absent when payments do not run on this host. */
  trigger?: PaymentTrigger;
  /**
   * Called after a resolution changed the entry (resolved paid: the ledger credited; resolved
   * unpaid: the amount owed again), awaited before the route answers. The worker-partition host
   * rewrites the partition's worker_summary and exports it again: a resolution happens outside
   * any payment run, so nothing else would until the partition's next event file. A failure is
   * logged as a warning (`log`); the resolution stands and the answer is the same.
   */
  onResolved?: (entry: WalEntry) => Promise<void>;
  /** Where a failed `onResolved` is reported (a warning). */
  log?: Logger;
}

export class PaymentRequestError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "PaymentRequestError";
  }
}

/** The partitions asked for: one active partition, or all when none is given. */
export function partitionsFor(partition: string | null | undefined): string[] {
  if (partition === undefined || partition === null || partition === "") return [...ACTIVE_PARTITIONS];
  if (!isActivePartition(partition)) throw new PaymentRequestError(400, `partition ${JSON.stringify(partition)} is not active; active partitions: ${ACTIVE_PARTITIONS.join(", ")}`);
  return [partition];
}

export async function paymentsOverview(q: Queryable, partition?: string | null): Promise<PartitionPayments[]> {
  const out: PartitionPayments[] = [];
  for (const p of partitionsFor(partition)) {
    const entries = await listWalEntries(q, p);
    const totals = await paidTotals(q, p);
    out.push({
      partition: p,
      entries,
      paidTotals: Object.fromEntries([...totals].map(([a, wei]) => [a, wei.toString()])),
      needsResolution: entries.filter((e) => e.status === "ambiguous" || e.status === "reverted").map((e) => e.paymentId),
    });
  }
  return out;
}

export async function paymentsAudit(q: Queryable, partition?: string | null) {
  const out = [];
  for (const p of partitionsFor(partition)) out.push({ partition: p, audit: await listAudit(q, p) });
  return out;
}

/** A person's decision on an ambiguous or reverted payment; errors say why nothing changed. */
export async function resolvePaymentChecked(db: Db, paymentId: string, decision: unknown, note: unknown, by: string): Promise<WalEntry> {
  if (decision !== "paid" && decision !== "unpaid") throw new PaymentRequestError(400, `"as" must be "paid" or "unpaid", got ${JSON.stringify(decision)}`);
  if (typeof note !== "string" || note.trim() === "") throw new PaymentRequestError(400, "a non-empty note is required (why this decision)");
  const entry = await getWalEntry(db, paymentId);
  if (!entry) throw new PaymentRequestError(404, `no payment ${paymentId}`);
  if (entry.status !== "ambiguous" && entry.status !== "reverted") {
    throw new PaymentRequestError(409, `payment ${paymentId} is ${entry.status}; only ambiguous or reverted payments are resolved by a person`);
  }
  const changed = await resolvePayment(db, paymentId, decision, by, note.trim());
  const after = await getWalEntry(db, paymentId);
  if (!changed || !after) throw new PaymentRequestError(409, `payment ${paymentId} changed meanwhile; it is now ${after?.status ?? "gone"}`);
  return after;
}

const fail = (err: unknown) => {
  if (err instanceof PaymentRequestError) return { status: err.status, json: { error: err.message } };
  throw err;
};

export function paymentsRoutes(opts: PaymentsRoutesOptions): Route[] {
  const { db } = opts;
  return [
    {
      method: "GET",
      pattern: "/payments",
      mutating: false,
      handler: async (req) => {
        try {
          return { status: 200, json: { partitions: await paymentsOverview(db, req.query.get("partition")) } };
        } catch (err) {
          return fail(err);
        }
      },
    },
    {
      method: "GET",
      pattern: "/payments/audit",
      mutating: false,
      handler: async (req) => {
        try {
          return { status: 200, json: { partitions: await paymentsAudit(db, req.query.get("partition")) } };
        } catch (err) {
          return fail(err);
        }
      },
    },
    {
      method: "POST",
      pattern: "/payments/:partition/trigger",
      mutating: true,
      handler: async (req) => {
        try {
          const [partition] = partitionsFor(req.params.partition || "-");
          if (!opts.trigger) return { status: 503, json: { error: "payments do not run on this host (no payer configured); nothing triggered" } };
          const report = await opts.trigger(partition);
          return { status: triggerStatus(report), json: report };
        } catch (err) {
          return fail(err);
        }
      },
    },
    {
      method: "POST",
      pattern: "/payments/:paymentId/resolve",
      mutating: true,
      handler: async (req) => {
        try {
          const body = (req.body ?? {}) as { as?: unknown; note?: unknown; by?: unknown };
          const by = typeof body.by === "string" && body.by.trim() !== "" ? `admin:${body.by.trim()}` : "admin";
          const entry = await resolvePaymentChecked(db, req.params.paymentId, body.as, body.note, by);
          if (opts.onResolved) {
            try {
              await opts.onResolved(entry);
            } catch (err) {
              opts.log?.warn(
                { partition: entry.partitionId, paymentId: entry.paymentId, err: errorMessage(err) },
                "payments: the payment is resolved but refreshing the partition's summary failed; the next payment run or event file refreshes it",
              );
            }
          }
          return { status: 200, json: { ok: true, payment: entry } };
        } catch (err) {
          return fail(err);
        }
      },
    },
  ];
}

/**
 * The HTTP status of a trigger's report: a caller (`curl -f`, a cron job) must not take a run
 * that paid nobody, or not everyone owed, for success.
 */
export function triggerStatus(report: PaymentRunReport): number {
  if (report.outcome === "done") return 200;
  if (report.outcome === "stopped") return 503;
  return 409; // busy, refused (another chain), halted
}
