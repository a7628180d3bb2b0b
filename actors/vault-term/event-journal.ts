/**
 * The event tables are this kind's journal: append is idempotent on (transaction_hash, log_index).
 * `appendEvents` inserts a batch with one statement per table (rows in key order, so concurrent
 * writers never deadlock) and returns only the events that were new: a redelivered event is not
 * returned, so its amounts are never accumulated twice. `readAllEvents` reads the journal back for
 * replay, in (block, log) order.
 */
import type { Queryable } from "../../db/db.ts";
import type { AtomCreated, Deposited, GenericEvent, Redeemed, SharePriceChanged, TripleCreated, TxInfo, VaultEvent } from "./events.ts";

export const EVENT_TABLES = {
  AtomCreated: "atom_created_events",
  TripleCreated: "triple_created_events",
  Deposited: "deposited_events",
  Redeemed: "redeemed_events",
  SharePriceChanged: "share_price_changed_events",
  Generic: "generic_events",
} as const;

const TX_COLS = ["transaction_hash", "log_index", "address", "block_hash", "block_number", "network", "transaction_index", "block_timestamp"] as const;
const TX_CASTS = ["", "::bigint", "", "", "::bigint", "", "::bigint", ""] as const;

interface TableSpec<E extends VaultEvent> {
  table: string;
  cols: readonly string[];
  casts: readonly string[];
  values(e: E): (string | null)[];
  /**
   * How `readAllEvents` reads the table back: the event of a row, and the select list besides the
   * tx columns when it is not simply `cols` (a column that needs an expression).
   */
  read?: { select?: string; fromRow(r: Row, tx: TxInfo): E };
}

/** The TX_COLS values of one event, pushed onto the first eight column arrays. */
function pushTxValues(arrays: (string | null)[][], t: TxInfo): void {
  arrays[0].push(t.transactionHash);
  arrays[1].push(String(t.logIndex));
  arrays[2].push(t.address);
  arrays[3].push(t.blockHash);
  arrays[4].push(String(t.blockNumber));
  arrays[5].push(t.network);
  arrays[6].push(String(t.transactionIndex));
  arrays[7].push(t.blockTimestamp === null ? null : String(t.blockTimestamp));
}

const SPECS: { [K in VaultEvent["type"]]: TableSpec<Extract<VaultEvent, { type: K }>> } = {
  AtomCreated: {
    table: EVENT_TABLES.AtomCreated,
    cols: ["atom_data", "raw_data", "atom_wallet", "creator", "term_id"],
    casts: ["", "BYTEA", "", "", ""],
    values: (e: AtomCreated) => [e.atomData, e.rawData, e.atomWallet, e.creator, e.termId],
    read: {
      select: "atom_data, encode(raw_data, 'hex') AS raw_data, atom_wallet, creator, term_id",
      fromRow: (r, tx) => ({ type: "AtomCreated", tx, atomData: r.atom_data as string | null, rawData: (r.raw_data as string) ?? "", atomWallet: r.atom_wallet as string, creator: r.creator as string, termId: r.term_id as string }),
    },
  },
  TripleCreated: {
    table: EVENT_TABLES.TripleCreated,
    cols: ["creator", "object_id", "predicate_id", "subject_id", "term_id", "counter_term_id"],
    casts: ["", "", "", "", "", ""],
    values: (e: TripleCreated) => [e.creator, e.objectId, e.predicateId, e.subjectId, e.termId, e.counterTermId],
    read: {
      fromRow: (r, tx) => ({
        type: "TripleCreated",
        tx,
        creator: r.creator as string,
        objectId: r.object_id as string,
        predicateId: r.predicate_id as string,
        subjectId: r.subject_id as string,
        termId: r.term_id as string,
        counterTermId: r.counter_term_id as string,
      }),
    },
  },
  Deposited: {
    table: EVENT_TABLES.Deposited,
    cols: ["assets", "assets_after_fees", "curve_id", "receiver", "sender", "shares", "term_id", "total_shares", "vault_type"],
    casts: ["", "", "", "", "", "", "", "", "::smallint"],
    values: (e: Deposited) => [e.assets, e.assetsAfterFees, e.curveId, e.receiver, e.sender, e.shares, e.termId, e.totalShares, String(e.vaultType)],
    read: {
      fromRow: (r, tx) => ({
        type: "Deposited",
        tx,
        assets: r.assets as string,
        assetsAfterFees: r.assets_after_fees as string,
        curveId: r.curve_id as string,
        receiver: r.receiver as string,
        sender: r.sender as string,
        shares: r.shares as string,
        termId: r.term_id as string,
        totalShares: r.total_shares as string,
        vaultType: Number(r.vault_type),
      }),
    },
  },
  Redeemed: {
    table: EVENT_TABLES.Redeemed,
    cols: ["assets", "curve_id", "fees", "receiver", "sender", "shares", "term_id", "total_shares", "vault_type"],
    casts: ["", "", "", "", "", "", "", "", "::smallint"],
    values: (e: Redeemed) => [e.assets, e.curveId, e.fees, e.receiver, e.sender, e.shares, e.termId, e.totalShares, String(e.vaultType)],
    read: {
      fromRow: (r, tx) => ({
        type: "Redeemed",
        tx,
        assets: r.assets as string,
        curveId: r.curve_id as string,
        fees: r.fees as string,
        receiver: r.receiver as string,
        sender: r.sender as string,
        shares: r.shares as string,
        termId: r.term_id as string,
        totalShares: r.total_shares as string,
        vaultType: Number(r.vault_type),
      }),
    },
  },
  SharePriceChanged: {
    table: EVENT_TABLES.SharePriceChanged,
    cols: ["term_id", "curve_id", "share_price", "total_assets", "total_shares", "vault_type"],
    casts: ["", "", "", "", "", "::smallint"],
    values: (e: SharePriceChanged) => [e.termId, e.curveId, e.sharePrice, e.totalAssets, e.totalShares, String(e.vaultType)],
    read: {
      fromRow: (r, tx) => ({
        type: "SharePriceChanged",
        tx,
        termId: r.term_id as string,
        curveId: r.curve_id as string,
        sharePrice: r.share_price as string,
        totalAssets: r.total_assets as string,
        totalShares: r.total_shares as string,
        vaultType: Number(r.vault_type),
      }),
    },
  },
  Generic: {
    table: EVENT_TABLES.Generic,
    cols: ["event_name", "event_data"],
    casts: ["", "::jsonb"],
    values: (e: GenericEvent) => [e.eventName, JSON.stringify(e.eventData)],
  },
};

export function eventKey(e: { tx: { transactionHash: string; logIndex: number } }): string {
  return `${e.tx.transactionHash}#${e.tx.logIndex}`;
}

function selectExpr(col: string, cast: string): string {
  if (cast === "BYTEA") return `decode(${col}, 'hex')`;
  if (col === "block_timestamp") return `to_timestamp(${col}::double precision)`;
  return col + cast;
}

/** The insert statement of a table (built once per table). */
function insertStatement(spec: TableSpec<VaultEvent>): string {
  const cols = [...TX_COLS, ...spec.cols];
  const casts = [...TX_CASTS, ...spec.casts];
  const params = cols.map((_, i) => `$${i + 1}::text[]`).join(", ");
  return `INSERT INTO ${spec.table} (${cols.join(", ")})
       SELECT ${cols.map((c, i) => selectExpr(c, casts[i])).join(", ")}
         FROM unnest(${params}) AS r(${cols.join(", ")})
       ON CONFLICT (transaction_hash, log_index) DO NOTHING
       RETURNING transaction_hash, log_index::text AS log_index`;
}
const INSERTS = new Map<VaultEvent["type"], string>();

const byKey = (a: VaultEvent, b: VaultEvent) => (a.tx.transactionHash < b.tx.transactionHash ? -1 : a.tx.transactionHash > b.tx.transactionHash ? 1 : a.tx.logIndex - b.tx.logIndex);

/** Insert the events; returns the ones the journal had not seen (first occurrence wins within the batch). */
export async function appendEvents<E extends VaultEvent>(tx: Queryable, events: readonly E[]): Promise<E[]> {
  const byType = new Map<VaultEvent["type"], Map<string, E>>();
  for (const e of events) {
    let m = byType.get(e.type);
    if (!m) byType.set(e.type, (m = new Map()));
    const key = eventKey(e);
    if (!m.has(key)) m.set(key, e);
  }
  const fresh: E[] = [];
  for (const [type, unique] of [...byType].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const spec = SPECS[type] as TableSpec<VaultEvent>;
    let sql = INSERTS.get(type);
    if (sql === undefined) INSERTS.set(type, (sql = insertStatement(spec)));
    const rows = [...unique.values()].sort(byKey);
    const width = TX_COLS.length + spec.cols.length;
    const arrays: (string | null)[][] = [];
    for (let i = 0; i < width; i++) arrays.push([]);
    for (const e of rows) {
      pushTxValues(arrays, e.tx);
      const values = spec.values(e);
      for (let i = 0; i < values.length; i++) arrays[TX_COLS.length + i].push(values[i]);
    }
    const res = await tx.query<{ transaction_hash: string; log_index: string }>(sql, arrays);
    for (const r of res.rows) {
      const e = unique.get(`${r.transaction_hash}#${r.log_index}`);
      // A key the statement returns that the batch does not hold would send `undefined` on as an
      // event: a bug of this file's key encoding, said here rather than as a TypeError elsewhere.
      if (e === undefined) throw new Error(`${spec.table}: the journal returned key ${r.transaction_hash}#${r.log_index}, which the batch does not hold`);
      fresh.push(e);
    }
  }
  return fresh;
}

type Row = Record<string, string | number | null>;

function txFromRow(r: Row): TxInfo {
  return {
    transactionHash: r.transaction_hash as string,
    logIndex: Number(r.log_index),
    address: r.address as string,
    blockHash: r.block_hash as string,
    blockNumber: Number(r.block_number),
    network: r.network as string,
    transactionIndex: Number(r.transaction_index),
    blockTimestamp: r.ts === null ? null : Number(r.ts),
  };
}

const TX_SELECT = `transaction_hash, log_index::text AS log_index, address, block_hash, block_number::text AS block_number, network,
  transaction_index::text AS transaction_index, extract(epoch from block_timestamp)::bigint::text AS ts`;

/**
 * Every term event of the journal (generic events excluded), oldest first; with `termIds`, only
 * the events of those terms (a TripleCreated also where they are its counter term).
 */
export async function readAllEvents(db: Queryable, termIds?: readonly string[]): Promise<VaultEvent[]> {
  const out: VaultEvent[] = [];
  for (const spec of Object.values(SPECS) as TableSpec<VaultEvent>[]) {
    if (!spec.read) continue; // generic events concern no term
    const select = spec.read.select ?? spec.cols.join(", ");
    const res =
      termIds === undefined
        ? await db.query<Row>(`SELECT ${TX_SELECT}, ${select} FROM ${spec.table} ORDER BY block_number, log_index, transaction_hash`)
        : await db.query<Row>(
            `SELECT ${TX_SELECT}, ${select} FROM ${spec.table} WHERE term_id = ANY($1::text[])${spec.table === EVENT_TABLES.TripleCreated ? " OR counter_term_id = ANY($1::text[])" : ""}
              ORDER BY block_number, log_index, transaction_hash`,
            [[...termIds]],
          );
    for (const r of res.rows) out.push(spec.read.fromRow(r, txFromRow(r)));
  }
  return out.sort((a, b) => a.tx.blockNumber - b.tx.blockNumber || a.tx.logIndex - b.tx.logIndex);
}
