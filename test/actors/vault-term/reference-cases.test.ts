// vault-term reference cases (domain file C4, with decisions 2–5), on PostgreSQL and PGlite:
// events go through the real parser, journal, reducer, stores and triple analytics.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { testEngines, lazyDatabase } from "../../support/databases.ts";
import { migrate } from "../../../db/migrate.ts";
import type { Db } from "../../../db/db.ts";
import { counterTermId } from "../../../actors/vault-term/normalize.ts";
import { ACCOUNT_EIP55, CURVE0, CURVE2, WAD, account, atom, bytes32, deposit, price, redeem, triple } from "./event-builder.ts";
import { count, ingest, one, reset } from "./fixture.ts";

const TERM = bytes32(1);

interface PositionRow {
  shares: string;
  total_deposit_assets_after_total_fees: string;
  total_redeem_assets_for_receiver: string;
  last_deposit_block: string | null;
  last_deposit_log_index: string | null;
  last_shares_event_block: string | null;
}
const position = (db: Db, acc = ACCOUNT_EIP55, term = TERM, curve = CURVE0) =>
  one<PositionRow>(
    db,
    `SELECT shares::text, total_deposit_assets_after_total_fees::text, total_redeem_assets_for_receiver::text,
            last_deposit_block::text, last_deposit_log_index::text, last_shares_event_block::text
       FROM position WHERE account_id = $1 AND term_id = $2 AND curve_id = $3`,
    [acc, term, curve],
  );
const vault = (db: Db, term = TERM, curve = CURVE0) =>
  one<{ position_count: string; current_share_price: string; last_price_event_block: string; total_assets: string; market_cap: string; total_shares: string }>(
    db,
    `SELECT position_count::text, current_share_price::text, last_price_event_block::text, total_assets::text, market_cap::text, total_shares::text
       FROM vault WHERE term_id = $1 AND curve_id = $2`,
    [term, curve],
  );
const term = (db: Db, id: string) =>
  one<{ type: string; total_assets: string; total_market_cap: string; atom_id: string | null; triple_id: string | null }>(
    db,
    "SELECT type, total_assets::text, total_market_cap::text, atom_id, triple_id FROM term WHERE id = $1",
    [id],
  );

for (const engine of testEngines) {
  const t = suite(`vault-term reference cases (${engine.name})`);
  const fx = lazyDatabase(engine, async (db) => {
    await migrate(db);
  });
  const fresh = async () => {
    const db = await fx.get();
    await reset(db);
    return db;
  };

  t("out-of-order deposits - newest totalShares wins, totals accumulate, redelivery changes nothing", async () => {
    const db = await fresh();
    const d1005 = deposit({ term: TERM, amount: 5000, total: 5000, block: 1005 });
    await ingest(db, [d1005, deposit({ term: TERM, amount: 1000, total: 1000, block: 1001 }), deposit({ term: TERM, amount: 3000, total: 3000, block: 1003 })]);
    const again = await ingest(db, [d1005]);
    assert.is(again.fresh, 0);
    assert.is(again.duplicates, 1);
    const p = await position(db);
    assert.is(p.shares, "5000");
    assert.is(p.last_deposit_block, "1005");
    assert.is(p.last_deposit_log_index, "0");
    assert.is(p.total_deposit_assets_after_total_fees, "9000");
    assert.is(await count(db, "deposited_events"), 3);
    assert.is((await vault(db)).position_count, "1");
  });

  t("share price latest - the newest SharePriceChanged wins", async () => {
    const db = await fresh();
    await ingest(db, [
      deposit({ term: TERM, amount: 1000, total: 1000, block: 1001 }),
      price({ term: TERM, sharePrice: 2n * WAD, block: 1008 }),
      price({ term: TERM, sharePrice: 12n * 10n ** 17n, block: 1002 }),
      price({ term: TERM, sharePrice: 15n * 10n ** 17n, block: 1005 }),
    ]);
    const v = await vault(db);
    assert.is(v.current_share_price, "2000000000000000000");
    assert.is(v.last_price_event_block, "1008");
  });

  t("interleaved - shares from the newest event across deposits and redeems (decision 2)", async () => {
    const db = await fresh();
    await ingest(db, [
      deposit({ term: TERM, amount: 5000, total: 5000, block: 1000 }),
      redeem({ term: TERM, amount: 6000, total: 3000, block: 1005 }),
      deposit({ term: TERM, amount: 4000, total: 9000, block: 1003 }),
    ]);
    const p = await position(db);
    assert.is(p.shares, "3000");
    assert.is(p.total_deposit_assets_after_total_fees, "9000");
    assert.is(p.total_redeem_assets_for_receiver, "6000");
  });

  t("same block - log index orders events within a block", async () => {
    const db = await fresh();
    await ingest(db, [deposit({ term: TERM, amount: 10000, total: 10000, block: 999, log: 1 })]);
    await ingest(db, [
      deposit({ term: TERM, amount: 1, total: 8000, block: 1000, log: 2 }),
      deposit({ term: TERM, amount: 1, total: 9000, block: 1000, log: 5 }),
      redeem({ term: TERM, amount: 1, total: 7000, block: 1000, log: 1 }),
    ]);
    assert.is((await position(db)).shares, "9000");
  });

  t("random order - shares, deposits and redeems", async () => {
    const db = await fresh();
    await ingest(db, [
      deposit({ term: TERM, amount: 3000, total: 5000, block: 1007 }),
      deposit({ term: TERM, amount: 3000, total: 4000, block: 1003 }),
      redeem({ term: TERM, amount: 4000, total: 1000, block: 1010 }),
      deposit({ term: TERM, amount: 1000, total: 1000, block: 1001 }),
      redeem({ term: TERM, amount: 2000, total: 2000, block: 1005 }),
    ]);
    const p = await position(db);
    assert.is(p.shares, "1000");
    assert.is(p.total_deposit_assets_after_total_fees, "7000");
    assert.is(p.total_redeem_assets_for_receiver, "6000");
  });

  t("redeem to zero - position_count drops to 0", async () => {
    const db = await fresh();
    await ingest(db, [deposit({ term: TERM, amount: 10000, total: 10000, block: 1000 })]);
    assert.is((await vault(db)).position_count, "1");
    await ingest(db, [redeem({ term: TERM, amount: 5000, total: 0, block: 1005 }), redeem({ term: TERM, amount: 5000, total: 5000, block: 1003 })]);
    assert.is((await position(db)).shares, "0");
    assert.is((await vault(db)).position_count, "0");
  });

  t("redeem first - a redeem before any deposit", async () => {
    const db = await fresh();
    await ingest(db, [redeem({ term: TERM, amount: 3000, total: 7000, block: 1000 })]);
    await ingest(db, [deposit({ term: TERM, amount: 2000, total: 9000, block: 1005 })]);
    const p = await position(db);
    assert.is(p.shares, "9000");
    assert.is(p.total_deposit_assets_after_total_fees, "2000");
    assert.is(p.total_redeem_assets_for_receiver, "3000");
    assert.is((await vault(db)).position_count, "1");
  });

  t("concurrency - 10 accounts deposit into one vault", async () => {
    const db = await fresh();
    await ingest(db, Array.from({ length: 10 }, (_, i) => deposit({ term: TERM, amount: 1000, total: 1000, receiver: account(i), block: 1000 + i })));
    assert.is((await vault(db)).position_count, "10");
    const rows = await db.query<{ shares: string; dep: string }>(
      "SELECT shares::text AS shares, total_deposit_assets_after_total_fees::text AS dep FROM position WHERE term_id = $1",
      [TERM],
    );
    assert.is(rows.rows.length, 10);
    assert.ok(rows.rows.every((r) => r.shares === "1000" && r.dep === "1000"));
  });

  t("deposits and redeems - running totals", async () => {
    const db = await fresh();
    await ingest(db, [
      deposit({ term: TERM, amount: 5000, total: 5000, block: 1001 }),
      deposit({ term: TERM, amount: 3000, total: 3000, block: 1002 }),
      deposit({ term: TERM, amount: 2000, total: 2000, block: 1003 }),
      redeem({ term: TERM, amount: 4000, total: 4000, block: 1004 }),
      redeem({ term: TERM, amount: 2000, total: 2000, block: 1005 }),
    ]);
    const p = await position(db);
    assert.is(p.shares, "2000");
    assert.is(p.total_deposit_assets_after_total_fees, "10000");
    assert.is(p.total_redeem_assets_for_receiver, "6000");
  });

  t("position_count - counts positions with shares > 0", async () => {
    const db = await fresh();
    await ingest(db, Array.from({ length: 5 }, (_, i) => deposit({ term: TERM, amount: 1000, total: 1000, receiver: account(i + 1), block: 1000 })));
    await ingest(db, [1, 2].map((i) => redeem({ term: TERM, amount: 1000, total: 0, receiver: account(i), block: 1001 })));
    assert.is((await vault(db)).position_count, "3");
  });

  t("atom term - type Atom with zero totals", async () => {
    const db = await fresh();
    await ingest(db, [atom({ term: TERM, data: "ipfs://bafyatom" })]);
    const r = await term(db, TERM);
    assert.is(r.type, "Atom");
    assert.is(r.atom_id, TERM);
    assert.is(r.total_assets, "0");
    assert.is(r.total_market_cap, "0");
    const a = await one<{ data: string; resolving_status: string; raw: string }>(db, "SELECT data, resolving_status, encode(raw_data, 'hex') AS raw FROM atom WHERE term_id = $1", [TERM]);
    assert.is(a.data, "ipfs://bafyatom");
    assert.is(a.resolving_status, "Pending");
  });

  t("triple terms - triple row, pro and counter terms both 'Triple'", async () => {
    const db = await fresh();
    const [s, p, o, tr] = [bytes32(1), bytes32(2), bytes32(3), bytes32(0x10)];
    await ingest(db, [atom({ term: s }), atom({ term: p }), atom({ term: o }), triple({ term: tr, subject: s, predicate: p, object: o })]);
    const row = await one<{ subject_id: string; counter_term_id: string }>(db, "SELECT subject_id, counter_term_id FROM triple WHERE term_id = $1", [tr]);
    assert.is(row.subject_id, s);
    assert.is(row.counter_term_id, counterTermId(tr));
    assert.is((await term(db, tr)).type, "Triple");
    const counter = await term(db, counterTermId(tr));
    assert.is(counter.type, "Triple");
    assert.is(counter.triple_id, tr);
  });

  t("price to term - term totals are the sums over the term's vaults", async () => {
    const db = await fresh();
    await ingest(db, [atom({ term: TERM }), deposit({ term: TERM, amount: 10000, total: 10000, block: 1001 }), price({ term: TERM, sharePrice: 2n * WAD, block: 1002 })]);
    const r = await term(db, TERM);
    assert.is(r.total_assets, (10n ** 18n).toString());
    assert.is(r.total_market_cap, (2n * 10n ** 18n).toString());
    // A deposit after the price never overwrites the vault's price fields (decision 3).
    await ingest(db, [deposit({ term: TERM, amount: 500, total: 10500, block: 1003 })]);
    const v = await vault(db);
    assert.is(v.total_assets, (10n ** 18n).toString());
    assert.is(v.market_cap, (2n * 10n ** 18n).toString());
    assert.is((await term(db, TERM)).total_market_cap, (2n * 10n ** 18n).toString());
  });

  t("market cap - stored rounded half away from zero", async () => {
    const db = await fresh();
    await ingest(db, [price({ term: TERM, sharePrice: 5n * 10n ** 17n, totalShares: 3n, totalAssets: 2n, block: 1001 })]);
    assert.is((await vault(db)).market_cap, "2");
    assert.is((await term(db, TERM)).type, "Unknown");
  });

  t("multi-curve - triple_vault only where the pro or counter vault exists, never all zero", async () => {
    const db = await fresh();
    const [s, p, o, tr] = [bytes32(1), bytes32(2), bytes32(3), bytes32(0x10)];
    await ingest(db, [
      atom({ term: s }),
      atom({ term: p }),
      atom({ term: o }),
      triple({ term: tr, subject: s, predicate: p, object: o }),
      deposit({ term: s, amount: 100, total: 100, curve: CURVE0 }),
      deposit({ term: p, amount: 100, total: 100, curve: CURVE2 }),
      deposit({ term: o, amount: 100, total: 100, curve: CURVE0 }),
      deposit({ term: tr, amount: 100, total: 100, curve: CURVE0 }),
      price({ term: tr, sharePrice: WAD, totalShares: 100, totalAssets: 100, curve: CURVE0, block: 1001 }),
    ]);
    let rows = await db.query<{ curve_id: string; total_shares: string; position_count: string; market_cap: string }>(
      "SELECT curve_id, total_shares::text, position_count::text, market_cap::text FROM triple_vault ORDER BY curve_id",
    );
    assert.equal(rows.rows, [{ curve_id: CURVE0, total_shares: "100", position_count: "1", market_cap: "100" }]);
    // Only the counter vault exists on curve 2: one row, the missing pro side counts 0 (decision 4).
    await ingest(db, [
      deposit({ term: counterTermId(tr), amount: 50, total: 50, curve: CURVE2, vaultType: 2, block: 1002 }),
      price({ term: counterTermId(tr), sharePrice: WAD, totalShares: 50, totalAssets: 50, curve: CURVE2, block: 1003 }),
    ]);
    rows = await db.query("SELECT curve_id, total_shares::text, position_count::text, market_cap::text FROM triple_vault ORDER BY curve_id");
    assert.equal(rows.rows, [
      { curve_id: CURVE0, total_shares: "100", position_count: "1", market_cap: "100" },
      { curve_id: CURVE2, total_shares: "50", position_count: "1", market_cap: "50" },
    ]);
    const tt = await one<{ total_market_cap: string; total_position_count: string; total_assets: string }>(
      db,
      "SELECT total_market_cap::text, total_position_count::text, total_assets::text FROM triple_term WHERE term_id = $1",
      [tr],
    );
    assert.equal(tt, { total_market_cap: "150", total_position_count: "2", total_assets: "150" });
    const po = await one(db, "SELECT triple_count::text AS n, total_position_count::text AS p, total_market_cap::text AS m FROM predicate_object WHERE predicate_id = $1 AND object_id = $2", [p, o]);
    assert.equal(po, { n: "1", p: "2", m: "150" });
    const sp = await one(db, "SELECT triple_count::text AS n, total_position_count::text AS p, total_market_cap::text AS m FROM subject_predicate WHERE subject_id = $1 AND predicate_id = $2", [s, p]);
    assert.equal(sp, { n: "1", p: "2", m: "150" });
  });

  t("queue dedup - TripleCreated queues term and counter; rapid updates coalesce", async () => {
    const db = await fresh();
    const tr = bytes32(0x10);
    const { ingestMessages } = await import("../../../actors/vault-term/ingest.ts");
    const { DeadLetterStore } = await import("../../../db/dead-letter-store.ts");
    const { parse } = await import("./event-builder.ts");
    const opts = { db, deadLetters: new DeadLetterStore(db) };
    await ingestMessages(parse([triple({ term: tr, subject: bytes32(1), predicate: bytes32(2), object: bytes32(3) })]), opts);
    assert.is(await count(db, "term_update_queue"), 2);
    for (let i = 0; i < 5; i++) await ingestMessages(parse([deposit({ term: tr, amount: 1, total: i + 1, block: 1001 + i })]), opts);
    assert.is(await count(db, "term_update_queue"), 2);
    assert.is(await count(db, "term_update_queue WHERE term_id = $1", [tr]), 1);
  });

  t.after(() => fx.drop());
  t.run();
}
