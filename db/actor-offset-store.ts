/**
 * Per-actor offsets (`strata_actor_offset`): how far each entity actor has applied its journal.
 * saveOffsets runs in the same transaction as the state it covers (DESIGN.md spine rule 1: an
 * actor catches up from its stored offset), so state and offset commit or roll back together.
 * One statement per batch. An offset is a journal seq (or a kind's own watermark) ≥ 0.
 */
import type { Queryable } from "./db.ts";
import { int8Text, int8ToNumber } from "./sql.ts";

export interface OffsetEntry {
  entityId: string;
  offset: number | bigint | string;
}

/** Stored offsets of these entities; an entity never saved is absent from the map. */
export async function loadOffsets(db: Queryable, kind: string, entityIds: readonly string[]): Promise<Map<string, number>> {
  if (entityIds.length === 0) return new Map();
  const res = await db.query<{ entity_id: string; offset: string }>(
    `SELECT entity_id, "offset" FROM strata_actor_offset WHERE kind = $1 AND entity_id = ANY($2::text[])`,
    [kind, [...new Set(entityIds)]],
  );
  return new Map(res.rows.map((r) => [r.entity_id, int8ToNumber(r.offset, `offset of ${kind} ${r.entity_id}`)]));
}

/**
 * Writes these offsets inside the caller's transaction (insert or overwrite). When an entity
 * appears more than once, its last entry wins. Rows are written in entity order, so concurrent
 * batches lock them in the same order.
 */
export async function saveOffsets(tx: Queryable, kind: string, entries: readonly OffsetEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const last = new Map<string, string>();
  for (const e of entries) {
    const offset = int8Text(e.offset, `offset of ${kind} ${e.entityId}`) as string;
    if (offset.startsWith("-")) throw new RangeError(`offset of ${kind} ${e.entityId} is negative: ${offset}`);
    last.set(e.entityId, offset);
  }
  const ids = [...last.keys()].sort();
  await tx.query(
    `INSERT INTO strata_actor_offset (kind, entity_id, "offset")
     SELECT $1::text, e.entity_id, e.off FROM unnest($2::text[], $3::bigint[]) AS e(entity_id, off) ORDER BY e.entity_id
     ON CONFLICT (kind, entity_id) DO UPDATE SET "offset" = EXCLUDED."offset", updated_at = now()`,
    [kind, ids, ids.map((id) => last.get(id))],
  );
}
