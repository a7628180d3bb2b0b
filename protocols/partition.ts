/**
 * Stable partition hash: which of P buckets an entity id belongs to.
 *
 * partition(id) = FNV-1a 32-bit over the UTF-8 bytes of the raw (un-encoded) id, modulo P.
 * FNV-1a: h = 0x811c9dc5; for each byte: h ^= byte; h = (h * 0x01000193) mod 2^32.
 * It never changes between versions (hosts own sets of partitions by number); P defaults to 16
 * and is set by STRATA_PARTITIONS. Vector: partitionOf("transcode|eu-central", 16) === 10.
 * The token form is `p` + the bucket number zero-padded to the width of P-1 (at least 2): `p03`.
 */
export const DEFAULT_PARTITIONS = 16;
const encoder = new TextEncoder();

/** FNV-1a (32 bit) of the text's UTF-8 bytes. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  // ASCII text (entity ids: hex, partition names) is its own UTF-8: hashed without encoding it.
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) {
      ascii = false;
      break;
    }
    h ^= c;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  if (ascii) return h >>> 0;
  h = 0x811c9dc5;
  for (const byte of encoder.encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export function partitionOf(entityId: string, partitions: number = DEFAULT_PARTITIONS): number {
  if (!Number.isInteger(partitions) || partitions < 1) throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  return fnv1a32(entityId) % partitions;
}

export function partitionToken(partition: number, partitions: number = DEFAULT_PARTITIONS): string {
  const width = Math.max(2, String(partitions - 1).length);
  return "p" + String(partition).padStart(width, "0");
}

export function parsePartitionToken(token: string): number {
  const m = /^p(\d+)$/.exec(token);
  if (!m) throw new TypeError(`not a partition token: ${JSON.stringify(token)}`);
  return Number(m[1]);
}
