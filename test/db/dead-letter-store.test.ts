/** Dead letters on PostgreSQL and PGlite: stored with their error, published on strata.dlq.<kind>, listable. */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { pino } from "pino";
import { migrate } from "../../db/migrate.ts";
import { KNOWN_DEAD_LETTERS_SQL, recordNewDeadLetters, DeadLetterStore, DEAD_LETTER_MESSAGE_TYPE, listDeadLetters, transactionWithDeadLetters } from "../../db/dead-letter-store.ts";
import type { Queryable } from "../../db/db.ts";
import type { DeadLetter } from "../../supervisors/actor-kind.ts";
import { createMemoryTransport } from "../../supervisors/transport/memory-transport.ts";
import type { Transport, TransportMessage } from "../../supervisors/transport/transport.ts";
import { decodeEnvelope } from "../../protocols/envelope.ts";
import { lazyDatabase, testEngines } from "../support/databases.ts";
import { rejectionMessage } from "../support/rejection.ts";

const letter = (over: Partial<DeadLetter> = {}): DeadLetter => ({
  kind: "vault-term",
  entityId: "0x1234",
  source: "redis:intuition/1700000000000-0",
  payload: { event_name: "Deposited", event_data: { assets: "oops" } },
  error: "vault-term Deposited: event_data.assets: expected decimal digits",
  errorCode: "validation",
  ...over,
});

/** Everything published on strata.dlq.> of a memory transport. */
function listen(transport: Transport): TransportMessage[] {
  const got: TransportMessage[] = [];
  transport.subscribe("strata.dlq.>", (msg) => {
    got.push(msg);
  });
  return got;
}

for (const engine of testEngines) {
  const t = suite(engine.name);
  const fx = lazyDatabase(engine, (db) => migrate(db, { maxVersion: 99 }).then(() => {}));
  const transports: Transport[] = [];
  t.after(async () => {
    for (const tr of transports) await tr.close();
    await fx.drop();
  });

  t("dead letters - recorded with their error and published on strata.dlq.<kind>", async () => {
    const db = await fx.get();
    const transport = createMemoryTransport();
    transports.push(transport);
    const got = listen(transport);
    const store = new DeadLetterStore(db, { transport });
    await store.record(letter());
    await transport.flush();

    const [row] = await store.list({ kind: "vault-term" });
    assert.is(row.kind, "vault-term");
    assert.is(row.entityId, "0x1234");
    assert.is(row.source, "redis:intuition/1700000000000-0");
    assert.equal(row.payload, { event_name: "Deposited", event_data: { assets: "oops" } });
    assert.is(row.error, "vault-term Deposited: event_data.assets: expected decimal digits");
    assert.is(row.errorCode, "validation");
    assert.ok(row.createdAt instanceof Date);
    assert.is(row.resolvedAt, null);
    assert.match(row.id, /^\d+$/);

    assert.is(got.length, 1);
    assert.is(got[0].subject, "strata.dlq.vault-term");
    const env = decodeEnvelope(got[0].data);
    assert.is(env.type, DEAD_LETTER_MESSAGE_TYPE);
    assert.is(env.kind, "vault-term");
    assert.is(got[0].headers["Nats-Msg-Id"], env.id);
    const body = env.body as Record<string, unknown>;
    assert.is(body.id, row.id);
    assert.is(body.error, row.error);
    assert.is(body.errorCode, "validation");
    assert.equal(body.payload, row.payload);
  });

  t("dead letters - a publish failure never loses the row, and is logged", async () => {
    const db = await fx.get();
    const lines: string[] = [];
    const log = pino({ level: "warn" }, { write: (line: string) => void lines.push(line) });
    // A transport that is gone (closed): its publish throws.
    const broken = createMemoryTransport();
    await broken.close();
    const store = new DeadLetterStore(db, { transport: broken, log });
    await store.record(letter({ kind: "k-broken", source: "nats:strata.k-broken.p00.x.notify" }));
    const rows = await store.list({ kind: "k-broken" });
    assert.is(rows.length, 1);
    assert.is(lines.length, 1);
    const logged = JSON.parse(lines[0]) as { msg: string; deadLetterId: string; level: number };
    assert.is(logged.deadLetterId, rows[0].id);
    assert.match(logged.msg, /stored but not published: memory transport is closed/);
  });

  t("dead letters - a payload too large to publish is announced without it and kept in full", async () => {
    const db = await fx.get();
    const transport = createMemoryTransport({ maxPayload: 2048 });
    transports.push(transport);
    const got = listen(transport);
    const store = new DeadLetterStore(db, { transport });
    const big = "x".repeat(5000);
    await store.record(letter({ kind: "k-big", payload: { big } }));
    await transport.flush();
    assert.is(got.length, 1);
    const body = decodeEnvelope(got[0].data).body as Record<string, unknown>;
    assert.is(body.payloadOmitted, true);
    assert.is(body.payload, null);
    assert.equal((await store.list({ kind: "k-big" }))[0].payload, { big });
  });

  t("dead letters - recorded in the caller's transaction roll back with it", async () => {
    const db = await fx.get();
    const store = new DeadLetterStore(db);
    const failed = db.transaction(async (tx) => {
      await store.record(letter({ kind: "k-tx" }), tx);
      throw new Error("batch failed");
    });
    assert.match(await rejectionMessage(failed), /batch failed/);
    assert.is(await store.count("k-tx"), 0);
    await db.transaction((tx) => store.record(letter({ kind: "k-tx" }), tx));
    assert.is(await store.count("k-tx"), 1);
  });

  t("dead letters - recordNewDeadLetters keeps one copy per (kind, source) when a batch is delivered again", async () => {
    const db = await fx.get();
    const store = new DeadLetterStore(db);
    const batch = [letter({ kind: "k-once", source: "s3:b/a.json#1" }), letter({ kind: "k-once", source: "s3:b/a.json#4" }), letter({ kind: "k-other", source: "s3:b/a.json#1" })];
    assert.is(await db.transaction((tx) => recordNewDeadLetters(store, tx, batch)), 3);
    // The retry of the same batch, plus one new bad record and a repeat inside the batch.
    const again = [...batch, letter({ kind: "k-once", source: "s3:b/b.json#0" }), letter({ kind: "k-once", source: "s3:b/b.json#0" })];
    assert.is(await db.transaction((tx) => recordNewDeadLetters(store, tx, again)), 1);
    assert.is(await store.count("k-once"), 3);
    assert.is(await store.count("k-other"), 1);
  });

  t("dead letters - the (kind, source) lookup of recordNewDeadLetters goes through an index, not a scan of the kind's letters (migration 0002)", async () => {
    const db = await fx.get();
    await db.query(
      `INSERT INTO strata_dead_letter (kind, source, error, error_code)
       SELECT 'k-many', 's3:bucket/' || repeat('long-key/', 400) || g || '.json#' || g, 'bad', 'validation' FROM generate_series(1, 20000) AS g`,
    );
    await db.query("ANALYZE strata_dead_letter");
    const plan = await db.query<{ "QUERY PLAN": unknown }>(`EXPLAIN (FORMAT JSON) ${KNOWN_DEAD_LETTERS_SQL}`, [["k-many"], ["s3:bucket/x.json#1"]]);
    const text = JSON.stringify(plan.rows[0]["QUERY PLAN"]);
    assert.match(text, /strata_dead_letter_source/, text);
    assert.not.match(text, /"Seq Scan"/, text);
    // Sources longer than a btree entry allows are indexed (through md5) and found.
    const store = new DeadLetterStore(db);
    const long = "s3:bucket/" + "long-key/".repeat(400) + "7.json#7";
    assert.is(await db.transaction((tx) => recordNewDeadLetters(store, tx, [letter({ kind: "k-many", source: long }), letter({ kind: "k-many", source: long + "0" })])), 1);
  });

  t("dead letters - regression: recorded in the caller's transaction, the notice waits for the commit; a rollback publishes nothing", async () => {
    const db = await fx.get();
    const transport = createMemoryTransport();
    transports.push(transport);
    const got = listen(transport);
    const store = new DeadLetterStore(db, { transport });

    const failed = transactionWithDeadLetters(db, store, async (tx) => {
      await store.record(letter({ kind: "k-tx-pub", source: "rolled-back" }), tx);
      throw new Error("batch failed");
    });
    assert.match(await rejectionMessage(failed), /batch failed/);
    await transport.flush();
    assert.is(got.length, 0, "a rolled-back dead letter is never announced");
    assert.is(await store.count("k-tx-pub"), 0);

    let seenBeforeCommit = -1;
    await transactionWithDeadLetters(db, store, async (tx) => {
      await store.record(letter({ kind: "k-tx-pub", source: "committed" }), tx);
      await transport.flush();
      seenBeforeCommit = got.length;
    });
    assert.is(seenBeforeCommit, 0, "nothing is published before the commit");
    await transport.flush();
    assert.is(got.length, 1);
    const body = decodeEnvelope(got[0].data).body as Record<string, unknown>;
    assert.is(body.source, "committed");
    const [row] = await store.list({ kind: "k-tx-pub" });
    assert.is(body.id, row.id, "the announced row is the committed one");

    // Without the helper: held until publishCommitted(tx) is called after the commit.
    let held: Queryable | undefined;
    await db.transaction(async (tx) => {
      held = tx;
      await store.record(letter({ kind: "k-tx-pub", source: "manual" }), tx);
    });
    await transport.flush();
    assert.is(got.length, 1);
    assert.is(store.publishCommitted(held as Queryable), 1);
    assert.is(store.publishCommitted(held as Queryable), 0, "published once");
    await transport.flush();
    assert.is(got.length, 2);
  });

  t("dead letters - input PostgreSQL cannot store is kept with U+FFFD in its place", async () => {
    const db = await fx.get();
    const store = new DeadLetterStore(db);
    const stored = await store.recordAndReturn(
      letter({ kind: "k-nul", entityId: "a\u0000b", payload: { text: "bad\u0000byte", lone: "\ud800", ok: "\\u0000 stays" }, error: "nul\u0000in error" }),
    );
    assert.is(stored.entityId, "a\ufffdb");
    assert.equal(stored.payload, { text: "bad\ufffdbyte", lone: "\ufffd", ok: "\\u0000 stays" });
    assert.is(stored.error, "nul\ufffdin error");
    const bytes = await store.recordAndReturn(letter({ kind: "k-nul", payload: new Uint8Array([0xff, 0x00, 0x41]) }));
    assert.equal(bytes.payload, { base64: "/wBB" });
    const text = await store.recordAndReturn(letter({ kind: "k-nul", payload: new TextEncoder().encode("{not json"), entityId: null }));
    assert.is(text.payload, "{not json");
    assert.is(text.entityId, null);
  });

  t("dead letters - listed newest first by kind with a limit, counted, resolved", async () => {
    const db = await fx.get();
    const store = new DeadLetterStore(db);
    for (let i = 0; i < 5; i++) await store.record(letter({ kind: "k-list", source: `import:file.jsonl:${i + 1}` }));
    await store.record(letter({ kind: "k-list-other" }));
    const two = await store.list({ kind: "k-list", limit: 2 });
    assert.equal(two.map((r) => r.source), ["import:file.jsonl:5", "import:file.jsonl:4"]);
    assert.is(await store.count("k-list"), 5);
    assert.is(await store.resolve([two[0].id, two[1].id]), 2);
    assert.is(await store.resolve([two[0].id]), 0, "already resolved");
    assert.is(await store.count("k-list"), 3);
    assert.is(await store.count("k-list", { includeResolved: true }), 5);
    assert.is((await listDeadLetters(db, { kind: "k-list", unresolvedOnly: true })).length, 3);
    const all = await listDeadLetters(db, { limit: 1000 });
    assert.ok(all.some((r) => r.kind === "k-list-other"));
    assert.ok(all.length >= 6);
  });

  t.run();
}
