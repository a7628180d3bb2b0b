/** The Db interface behaves the same over pg.Pool and PGlite (what every store relies on). */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { lazyDatabase, testEngines } from "../support/databases.ts";

for (const engine of testEngines) {
  const t = suite(engine.name);
  const fx = lazyDatabase(engine);
  t.after(() => fx.drop());

  t("db - text without parameters may hold several statements; the last result is returned", async () => {
    const db = await fx.get();
    const r = await db.query<{ n: number }>("CREATE TABLE t_multi (n int); INSERT INTO t_multi VALUES (1), (2); SELECT count(*)::int AS n FROM t_multi");
    assert.equal(r.rows, [{ n: 2 }]);
  });

  t("db - array parameters round trip: quotes, backslashes, commas, braces, the word NULL, empty, null, nested, numbers", async () => {
    const db = await fx.get();
    const texts = ['a"b', "c\\d", "e,f", "{g}", "NULL", "null", "", null, " sp ", "ü😀", '\\"'];
    const r = await db.query<{ v: string | null; n: number }>("SELECT v, n::int AS n FROM unnest($1::text[]) WITH ORDINALITY AS u(v, n) ORDER BY n", [texts]);
    assert.equal(r.rows.map((x) => x.v), texts);
    const nums = await db.query<{ a: string[]; b: number[]; c: boolean[]; m: number[][] }>(
      "SELECT $1::numeric[]::text[] AS a, $2::int[] AS b, $3::boolean[] AS c, $4::int[][] AS m",
      [[12345678901234567890n, -5, 1.5], [1, null, 3], [true, false], [[1, 2], [3, 4]]],
    );
    assert.equal(nums.rows[0], { a: ["12345678901234567890", "-5", "1.5"], b: [1, null, 3], c: [true, false], m: [[1, 2], [3, 4]] });
  });

  t("db - a Uint8Array parameter is UTF-8 text (a large journal text made as bytes), stored as the string it encodes", async () => {
    const db = await fx.get();
    await db.query("CREATE TABLE t_utf8 (n int, v text)");
    const texts = ['[{"a":"ü😀","b":"\\u0000 é"}]', "x".repeat(300_000) + "é"];
    const bytes = texts.map((t) => new TextEncoder().encode(t));
    const view = new TextEncoder().encode("--" + texts[0] + "--").subarray(2, 2 + bytes[0].byteLength); // a view inside a larger buffer
    await db.query("INSERT INTO t_utf8 VALUES (1, $1::text), (2, $2::text), (3, $3::text)", [bytes[0], bytes[1], view]);
    const r = await db.query<{ n: number; v: string; l: number }>("SELECT n, v, length(v) AS l FROM t_utf8 ORDER BY n");
    assert.equal(r.rows.map((x) => x.v), [texts[0], texts[1], texts[0]]);
    assert.equal(r.rows.map((x) => x.l), [[...texts[0]].length, texts[1].length, [...texts[0]].length]);
  });

  t("db - rowCount counts selected, returned and affected rows", async () => {
    const db = await fx.get();
    await db.query("CREATE TABLE t_rows (n int)");
    assert.is((await db.query("INSERT INTO t_rows SELECT generate_series(1, $1::int)", [3])).rowCount, 3);
    assert.is((await db.query("SELECT n FROM t_rows WHERE n > $1", [0])).rowCount, 3);
    assert.is((await db.query("UPDATE t_rows SET n = n + $1 WHERE n > 1", [10])).rowCount, 2);
    assert.is((await db.query("DELETE FROM t_rows WHERE n > $1 RETURNING n", [100])).rowCount, 0);
  });

  t("db - INT8 and NUMERIC come back as strings, jsonb parsed, timestamptz as Date", async () => {
    const db = await fx.get();
    const r = await db.query<{ big: string; num: string; j: unknown; ts: Date; i: number }>(
      "SELECT 9007199254740993::int8 AS big, 1.50::numeric AS num, '{\"a\":[1]}'::jsonb AS j, now() AS ts, 7::int AS i",
    );
    assert.is(r.rows[0].big, "9007199254740993");
    assert.is(r.rows[0].num, "1.50");
    assert.equal(r.rows[0].j, { a: [1] });
    assert.ok(r.rows[0].ts instanceof Date);
    assert.is(r.rows[0].i, 7);
  });

  t("db - a transaction commits when fn resolves and rolls back when it throws", async () => {
    const db = await fx.get();
    await db.query("CREATE TABLE t_tx (n int)");
    assert.is(await db.transaction(async (tx) => (await tx.query("INSERT INTO t_tx VALUES ($1)", [1])).rowCount), 1);
    let message = "";
    try {
      await db.transaction(async (tx) => {
        await tx.query("INSERT INTO t_tx VALUES ($1)", [2]);
        throw new Error("rolled back");
      });
    } catch (err) {
      message = (err as Error).message;
    }
    assert.is(message, "rolled back");
    assert.equal((await db.query<{ n: number }>("SELECT n FROM t_tx")).rows, [{ n: 1 }]);
  });

  t.run();
}
