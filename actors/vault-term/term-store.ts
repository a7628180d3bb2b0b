/**
 * Load and save vault-term actor states: the rows of `term`, `atom`, `triple`, `vault` and the
 * touched `position` rows. Saving writes one multi-row upsert per table for many terms at once
 * (group commit), rows ordered by key; the caller's transaction makes it atomic with the journal.
 * Numbers travel as text (NUMERIC(78,0) ↔ bigint), timestamps as epoch seconds.
 */
import type { Queryable } from "../../db/db.ts";
import type { TermChanges } from "./reducer.ts";
import { emptyTermState, positionKey, type Stamp, type TermState, type TermType } from "./term-state.ts";

const ts = (col: string, alias = col) => `extract(epoch from ${col})::bigint::text AS ${alias}`;
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const big = (v: unknown): bigint => BigInt(v as string);
const bigOrNull = (v: unknown): bigint | null => (v === null || v === undefined ? null : BigInt(v as string));
const stamp = (b: unknown, l: unknown): Stamp | null => (b === null || b === undefined ? null : { block: Number(b), log: Number(l) });
const str = (v: bigint | null): string | null => (v === null ? null : v.toString());
const tsParam = (v: number | null): string | null => (v === null ? null : String(v));
const toTs = (param: string) => `to_timestamp(${param}::double precision)`;

type Row = Record<string, unknown>;

/**
 * Load the states of these terms, with the positions listed in `positions` (term → keys), or
 * with every position of the terms (`"all"`: a resident term actor keeps them all).
 */
export async function loadTermStates(
  db: Queryable,
  termIds: readonly string[],
  positions: ReadonlyMap<string, readonly { accountId: string; curveId: string }[]> | "all",
): Promise<Map<string, TermState>> {
  const states = new Map<string, TermState>();
  for (const id of termIds) states.set(id, emptyTermState(id));
  if (termIds.length === 0) return states;
  const ids = [...termIds];
  // Sequential: inside a transaction there is one connection.
  const terms = await db.query<Row>(
      `SELECT id, type, atom_id, triple_id, total_assets::text AS total_assets, total_market_cap::text AS total_market_cap, ${ts("created_at")}, ${ts("updated_at")}
         FROM term WHERE id = ANY($1::text[])`,
      [ids],
    );
  const atoms = await db.query<Row>(
      `SELECT term_id, wallet_id, creator_id, data, encode(raw_data, 'hex') AS raw_data, last_event_block::text AS b, last_event_log_index::text AS l, ${ts("created_at")}, ${ts("updated_at")}
         FROM atom WHERE term_id = ANY($1::text[])`,
      [ids],
    );
  const triples = await db.query<Row>(
      `SELECT term_id, creator_id, subject_id, predicate_id, object_id, counter_term_id, last_event_block::text AS b, last_event_log_index::text AS l, ${ts("created_at")}, ${ts("updated_at")}
         FROM triple WHERE term_id = ANY($1::text[])`,
      [ids],
    );
  const vaults = await db.query<Row>(
      `SELECT term_id, curve_id, total_shares::text AS total_shares, current_share_price::text AS current_share_price, total_assets::text AS total_assets,
              market_cap::text AS market_cap, position_count::text AS position_count, vault_type,
              last_price_event_block::text AS b, last_price_event_log_index::text AS l, ${ts("created_at")}, ${ts("updated_at")}
         FROM vault WHERE term_id = ANY($1::text[])`,
      [ids],
    );
  for (const r of terms.rows) {
    states.get(r.id as string)!.term = {
      type: r.type as TermType,
      atomId: r.atom_id as string | null,
      tripleId: r.triple_id as string | null,
      totalAssets: big(r.total_assets),
      totalMarketCap: bigOrNull(r.total_market_cap),
      createdAt: num(r.created_at),
      updatedAt: num(r.updated_at),
    };
  }
  for (const r of atoms.rows) {
    states.get(r.term_id as string)!.atom = {
      walletId: r.wallet_id as string,
      creatorId: r.creator_id as string,
      data: r.data as string | null,
      rawData: (r.raw_data as string | null) ?? "",
      last: stamp(r.b, r.l) ?? { block: 0, log: 0 },
      createdAt: num(r.created_at),
      updatedAt: num(r.updated_at),
    };
  }
  for (const r of triples.rows) {
    states.get(r.term_id as string)!.triple = {
      creatorId: r.creator_id as string,
      subjectId: r.subject_id as string,
      predicateId: r.predicate_id as string,
      objectId: r.object_id as string,
      counterTermId: r.counter_term_id as string,
      last: stamp(r.b, r.l) ?? { block: 0, log: 0 },
      createdAt: num(r.created_at),
      updatedAt: num(r.updated_at),
    };
  }
  for (const r of vaults.rows) {
    states.get(r.term_id as string)!.vaults.set(r.curve_id as string, {
      curveId: r.curve_id as string,
      totalShares: big(r.total_shares),
      sharePrice: big(r.current_share_price),
      totalAssets: big(r.total_assets),
      marketCap: bigOrNull(r.market_cap),
      positionCount: Number(r.position_count),
      vaultType: r.vault_type as string | null,
      lastPrice: stamp(r.b, r.l) ?? { block: 0, log: 0 },
      createdAt: num(r.created_at),
      updatedAt: num(r.updated_at),
    });
  }
  const acc: string[] = [];
  const term: string[] = [];
  const curve: string[] = [];
  if (positions !== "all") {
    for (const [termId, keys] of positions) {
      for (const k of keys) {
        acc.push(k.accountId);
        term.push(termId);
        curve.push(k.curveId);
      }
    }
  }
  const positionCols = `p.account_id, p.term_id, p.curve_id, p.shares::text AS shares,
              p.total_deposit_assets_after_total_fees::text AS dep, p.total_redeem_assets_for_receiver::text AS red,
              p.last_deposit_block::text AS db, p.last_deposit_log_index::text AS dl,
              p.last_redeem_block::text AS rb, p.last_redeem_log_index::text AS rl,
              p.last_shares_event_block::text AS sb, p.last_shares_event_log_index::text AS sl,
              ${ts("p.created_at", "created_at")}, ${ts("p.updated_at", "updated_at")}`;
  if (positions === "all" || acc.length > 0) {
    const res = positions === "all"
      ? await db.query<Row>(`SELECT ${positionCols} FROM position p WHERE p.term_id = ANY($1::text[])`, [ids])
      : await db.query<Row>(
      `SELECT ${positionCols}
         FROM unnest($1::text[], $2::text[], $3::text[]) AS k(account_id, term_id, curve_id)
         -- LATERAL: one primary-key lookup per key (a join would hash the whole table).
         CROSS JOIN LATERAL (SELECT * FROM position q
                              WHERE q.account_id = k.account_id AND q.term_id = k.term_id AND q.curve_id = k.curve_id LIMIT 1) AS p`,
      [acc, term, curve],
    );
    for (const r of res.rows) {
      states.get(r.term_id as string)!.positions.set(positionKey(r.account_id as string, r.curve_id as string), {
        accountId: r.account_id as string,
        curveId: r.curve_id as string,
        shares: big(r.shares),
        totalDeposit: big(r.dep),
        totalRedeem: big(r.red),
        lastDeposit: stamp(r.db, r.dl),
        lastRedeem: stamp(r.rb, r.rl),
        lastShares: stamp(r.sb, r.sl),
        createdAt: num(r.created_at),
        updatedAt: num(r.updated_at),
      });
    }
  }
  return states;
}

/** Columns as parallel arrays, one statement per table. */
class Columns {
  readonly cols: (string | null)[][];
  constructor(n: number) {
    this.cols = Array.from({ length: n }, () => []);
  }
  push(...values: (string | null)[]) {
    for (let i = 0; i < values.length; i++) this.cols[i].push(values[i]);
  }
  get size() {
    return this.cols[0].length;
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Write the changed rows of these states; one upsert per table, rows in key order. */
export async function saveTermStates(tx: Queryable, entries: readonly { state: TermState; changes: TermChanges }[]): Promise<void> {
  const sorted = [...entries].sort((a, b) => cmp(a.state.termId, b.state.termId));
  const terms = new Columns(8);
  const atoms = new Columns(9);
  const triples = new Columns(10);
  const vaults = new Columns(12);
  const positions = new Columns(14);
  for (const { state: s, changes: c } of sorted) {
    if (c.term && s.term) {
      const t = s.term;
      terms.push(s.termId, t.type, t.atomId, t.tripleId, t.totalAssets.toString(), str(t.totalMarketCap), tsParam(t.createdAt), tsParam(t.updatedAt));
    }
    if (c.atom && s.atom) {
      const a = s.atom;
      atoms.push(s.termId, a.walletId, a.creatorId, a.data, a.rawData, String(a.last.block), String(a.last.log), tsParam(a.createdAt), tsParam(a.updatedAt));
    }
    if (c.triple && s.triple) {
      const t = s.triple;
      triples.push(s.termId, t.creatorId, t.subjectId, t.predicateId, t.objectId, t.counterTermId, String(t.last.block), String(t.last.log), tsParam(t.createdAt), tsParam(t.updatedAt));
    }
    for (const curveId of [...c.vaults].sort(cmp)) {
      const v = s.vaults.get(curveId)!;
      vaults.push(
        s.termId,
        curveId,
        v.totalShares.toString(),
        v.sharePrice.toString(),
        v.totalAssets.toString(),
        str(v.marketCap),
        String(v.positionCount),
        v.vaultType,
        String(v.lastPrice.block),
        String(v.lastPrice.log),
        tsParam(v.createdAt),
        tsParam(v.updatedAt),
      );
    }
    const posRows = [...c.positions].map((k) => s.positions.get(k)!).sort((a, b) => cmp(a.accountId, b.accountId) || cmp(a.curveId, b.curveId));
    for (const p of posRows) {
      positions.push(
        p.accountId,
        s.termId,
        p.curveId,
        p.shares.toString(),
        p.totalDeposit.toString(),
        p.totalRedeem.toString(),
        p.lastDeposit ? String(p.lastDeposit.block) : null,
        p.lastDeposit ? String(p.lastDeposit.log) : null,
        p.lastRedeem ? String(p.lastRedeem.block) : null,
        p.lastRedeem ? String(p.lastRedeem.log) : null,
        p.lastShares ? String(p.lastShares.block) : null,
        p.lastShares ? String(p.lastShares.log) : null,
        tsParam(p.createdAt),
        tsParam(p.updatedAt),
      );
    }
  }
  // Sequential on purpose: one transaction is one connection.
  if (terms.size > 0) {
    await tx.query(
      `INSERT INTO term (id, type, atom_id, triple_id, total_assets, total_market_cap, created_at, updated_at)
       SELECT id, type, atom_id, triple_id, ta::numeric, mc::numeric, ${toTs("c")}, ${toTs("u")}
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
           AS r(id, type, atom_id, triple_id, ta, mc, c, u)
       ON CONFLICT (id) DO UPDATE SET type = EXCLUDED.type, atom_id = EXCLUDED.atom_id, triple_id = EXCLUDED.triple_id,
         total_assets = EXCLUDED.total_assets, total_market_cap = EXCLUDED.total_market_cap,
         created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at`,
      terms.cols,
    );
  }
  if (atoms.size > 0) {
    await tx.query(
      `INSERT INTO atom (term_id, wallet_id, creator_id, data, raw_data, last_event_block, last_event_log_index, created_at, updated_at)
       SELECT term_id, w, cr, d, decode(raw, 'hex'), b::bigint, l::bigint, ${toTs("c")}, ${toTs("u")}
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
           AS r(term_id, w, cr, d, raw, b, l, c, u)
       ON CONFLICT (term_id) DO UPDATE SET wallet_id = EXCLUDED.wallet_id, creator_id = EXCLUDED.creator_id, data = EXCLUDED.data,
         raw_data = EXCLUDED.raw_data, last_event_block = EXCLUDED.last_event_block, last_event_log_index = EXCLUDED.last_event_log_index,
         created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at`,
      atoms.cols,
    );
  }
  if (triples.size > 0) {
    await tx.query(
      `INSERT INTO triple (term_id, creator_id, subject_id, predicate_id, object_id, counter_term_id, last_event_block, last_event_log_index, created_at, updated_at)
       SELECT term_id, cr, s, p, o, ct, b::bigint, l::bigint, ${toTs("c")}, ${toTs("u")}
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
           AS r(term_id, cr, s, p, o, ct, b, l, c, u)
       ON CONFLICT (term_id) DO UPDATE SET creator_id = EXCLUDED.creator_id, subject_id = EXCLUDED.subject_id, predicate_id = EXCLUDED.predicate_id,
         object_id = EXCLUDED.object_id, counter_term_id = EXCLUDED.counter_term_id, last_event_block = EXCLUDED.last_event_block,
         last_event_log_index = EXCLUDED.last_event_log_index, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at`,
      triples.cols,
    );
  }
  if (vaults.size > 0) {
    await tx.query(
      `INSERT INTO vault (term_id, curve_id, total_shares, current_share_price, total_assets, market_cap, position_count, vault_type,
                          last_price_event_block, last_price_event_log_index, created_at, updated_at)
       SELECT term_id, curve_id, ts::numeric, sp::numeric, ta::numeric, mc::numeric, pc::bigint, vt, b::bigint, l::bigint, ${toTs("c")}, ${toTs("u")}
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
           AS r(term_id, curve_id, ts, sp, ta, mc, pc, vt, b, l, c, u)
       ON CONFLICT (term_id, curve_id) DO UPDATE SET total_shares = EXCLUDED.total_shares, current_share_price = EXCLUDED.current_share_price,
         total_assets = EXCLUDED.total_assets, market_cap = EXCLUDED.market_cap, position_count = EXCLUDED.position_count,
         vault_type = EXCLUDED.vault_type, last_price_event_block = EXCLUDED.last_price_event_block,
         last_price_event_log_index = EXCLUDED.last_price_event_log_index, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at`,
      vaults.cols,
    );
  }
  if (positions.size > 0) {
    await tx.query(
      `INSERT INTO position (account_id, term_id, curve_id, shares, total_deposit_assets_after_total_fees, total_redeem_assets_for_receiver,
                             last_deposit_block, last_deposit_log_index, last_redeem_block, last_redeem_log_index,
                             last_shares_event_block, last_shares_event_log_index, created_at, updated_at)
       SELECT a, t, cv, sh::numeric, dep::numeric, red::numeric, db::bigint, dl::bigint, rb::bigint, rl::bigint, sb::bigint, sl::bigint, ${toTs("c")}, ${toTs("u")}
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                     $11::text[], $12::text[], $13::text[], $14::text[])
           AS r(a, t, cv, sh, dep, red, db, dl, rb, rl, sb, sl, c, u)
       ON CONFLICT (account_id, term_id, curve_id) DO UPDATE SET shares = EXCLUDED.shares,
         total_deposit_assets_after_total_fees = EXCLUDED.total_deposit_assets_after_total_fees,
         total_redeem_assets_for_receiver = EXCLUDED.total_redeem_assets_for_receiver,
         last_deposit_block = EXCLUDED.last_deposit_block, last_deposit_log_index = EXCLUDED.last_deposit_log_index,
         last_redeem_block = EXCLUDED.last_redeem_block, last_redeem_log_index = EXCLUDED.last_redeem_log_index,
         last_shares_event_block = EXCLUDED.last_shares_event_block, last_shares_event_log_index = EXCLUDED.last_shares_event_log_index,
         created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at`,
      positions.cols,
    );
  }
}
