/**
 * Durable audit in S3 (seed 003 defect 21: local audit files were lost with the container).
 * Every state change is first written to `payment_audit` in the same transaction as the change;
 * this exporter then copies every row not yet exported to S3 as one JSON object and marks the
 * row `exported_at` only after its object is stored (outbox, tracked per row: 0302 migration).
 * Keys are deterministic, so a repeat after a crash overwrites the same objects:
 *   <prefix><node_type>/<region>/<payment id or run-<run id>>/<audit id, 12 digits>-<event>.json
 */
import { PutObjectCommand } from "@aws-sdk/client-s3";
import type { S3Client } from "@aws-sdk/client-s3";
import type { Db } from "../../../db/db.ts";

export interface AuditObjectStore {
  put(key: string, body: string): Promise<void>;
}

export function s3AuditStore(client: S3Client, bucket: string): AuditObjectStore {
  return {
    async put(key, body) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: "application/json" }));
    },
  };
}

export interface AuditObject {
  id: string;
  partitionId: string;
  runId: string | null;
  paymentId: string | null;
  event: string;
  fromStatus: string | null;
  toStatus: string | null;
  detail: unknown;
  at: string;
}

export function auditObjectKey(prefix: string, a: Pick<AuditObject, "id" | "partitionId" | "runId" | "paymentId" | "event">): string {
  const [nodeType, region] = a.partitionId.includes("|") ? a.partitionId.split("|", 2) : ["_", a.partitionId];
  const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, "_");
  const owner = a.paymentId ? safe(a.paymentId) : `run-${safe(a.runId ?? "none")}`;
  return `${prefix}${safe(nodeType)}/${safe(region)}/${owner}/${a.id.padStart(12, "0")}-${safe(a.event)}.json`;
}

/**
 * Copy the partition's audit rows not yet in S3; returns how many were stored. Each row is
 * marked `exported_at` only after its object is stored. Rows are found by that mark, not by an
 * id cursor: two writers of one partition (a run, an admin resolution) can commit ids out of
 * order, and a cursor would skip the lower id committed last.
 */
export async function exportAudit(db: Db, store: AuditObjectStore, partitionId: string, opts: { prefix?: string; batch?: number } = {}): Promise<number> {
  const prefix = opts.prefix ?? "payments/";
  const batch = opts.batch ?? 500;
  let total = 0;
  for (;;) {
    const rows = await db.query<{ id: string; run_id: string | null; payment_id: string | null; event: string; from_status: string | null; to_status: string | null; detail: unknown; at: Date | string }>(
      `SELECT id::text AS id, run_id, payment_id, event, from_status, to_status, detail, at FROM payment_audit
       WHERE partition_id = $1 AND exported_at IS NULL ORDER BY id LIMIT $2`,
      [partitionId, batch],
    );
    if (rows.rowCount === 0) return total;
    for (const r of rows.rows) {
      const obj: AuditObject = {
        id: r.id, partitionId, runId: r.run_id, paymentId: r.payment_id, event: r.event, fromStatus: r.from_status, toStatus: r.to_status,
        detail: typeof r.detail === "string" ? JSON.parse(r.detail) : r.detail,
        at: r.at instanceof Date ? r.at.toISOString() : new Date(r.at).toISOString(),
      };
      await store.put(auditObjectKey(prefix, obj), JSON.stringify(obj, null, 2));
    }
    await db.query(`UPDATE payment_audit SET exported_at = now() WHERE id = ANY($1::bigint[]) AND exported_at IS NULL`, [rows.rows.map((r) => r.id)]);
    total += rows.rowCount;
  }
}
