/**
 * Transaction-scoped advisory locks that keep one writer per term (and per triple for analytics)
 * when several readers of one consumer group run at once, in one process or many. Keys are
 * (namespace, fnv1a32(id) as int4), taken in ascending order in one statement so two
 * transactions never wait on each other in a cycle. A hash collision only serialises more.
 */
import type { Queryable } from "../../db/db.ts";
import { fnv1a32 } from "../../protocols/partition.ts";

export const LOCK_NAMESPACE = { term: 0x5654, triple: 0x5441 } as const;

export async function lockIds(tx: Queryable, namespace: number, ids: Iterable<string>): Promise<void> {
  const keys = [...new Set([...ids].map((id) => fnv1a32(id) | 0))].sort((a, b) => a - b);
  if (keys.length === 0) return;
  await tx.query(
    `SELECT count(pg_advisory_xact_lock($1::int, k)) FROM (SELECT k FROM unnest($2::int[]) AS u(k) ORDER BY k) AS s`,
    [namespace, keys],
  );
}
