/**
 * Durable audit in S3 (seed 003 defect 21: local audit files were lost with the container).
 * Every state change is first written to `payment_audit` in the same transaction as the change;
 * this exporter then copies new rows to S3 as one JSON object each and advances a cursor only
 * after the objects are stored (outbox). Keys are deterministic, so a repeat after a crash
 * overwrites the same objects:
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

/** Copy the partition's audit rows not yet exported; returns how many were stored. */
export async function exportAudit(db: Db, store: AuditObjectStore, partitionId: string, opts: { prefix?: string; batch?: number } = {}): Promise<number> {
  const prefix = opts.prefix ?? "payments/";
  const batch = opts.batch ?? 500;
  let total = 0;
  for (;;) {
    const cur = await db.query<{ last_id: string }>(`SELECT last_id::text AS last_id FROM payment_audit_export WHERE partition_id = $1`, [partitionId]);
    const lastId = cur.rowCount === 0 ? "0" : cur.rows[0].last_id;
    const rows = await db.query<{ id: string; run_id: string | null; payment_id: string | null; event: string; from_status: string | null; to_status: string | null; detail: unknown; at: Date | string }>(
      `SELECT id::text AS id, run_id, payment_id, event, from_status, to_status, detail, at FROM payment_audit WHERE partition_id = $1 AND id > $2 ORDER BY id LIMIT $3`,
      [partitionId, lastId, batch],
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
    const newLast = rows.rows[rows.rows.length - 1].id;
    await db.query(
      `INSERT INTO payment_audit_export (partition_id, last_id) VALUES ($1, $2) ON CONFLICT (partition_id) DO UPDATE SET last_id = GREATEST(payment_audit_export.last_id, EXCLUDED.last_id)`,
      [partitionId, newLast],
    );
    total += rows.rowCount;
  }
}
