/**
 * actors/vault-term/event-journal.ts appendEvents, on both engines: it returns exactly the events
 * the journal had not seen (a batch's own duplicate once, a second append none), and a key the
 * statement returns that the batch does not hold is an error naming the table and the key, not an
 * `undefined` passed on as an event.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { testEngines } from "../../support/databases.ts";
import { migrate } from "../../../db/migrate.ts";
import type { Queryable } from "../../../db/db.ts";
import { appendEvents } from "../../../actors/vault-term/event-journal.ts";
import type { VaultEvent } from "../../../actors/vault-term/events.ts";
import { bytes32, deposit, parse, price } from "./event-builder.ts";

function events(messages: unknown[]): VaultEvent[] {
  return parse(messages).map((p) => {
    if (!p.ok) throw p.error;
    return p.event;
  });
}

for (const engine of testEngines) {
  test(`appendEvents (${engine.name}) - fresh events once: a duplicate in the batch and a second append are not fresh`, async () => {
    const fx = await engine.create();
    try {
      await migrate(fx.db);
      const batch = events([deposit({ term: bytes32(1), amount: 10, total: 10 }), price({ term: bytes32(1), sharePrice: 5n, log: 1 })]);
      const fresh = await fx.db.transaction((tx) => appendEvents(tx, [...batch, batch[0]]));
      assert.is(fresh.length, 2);
      assert.equal(new Set(fresh), new Set(batch));
      assert.equal(await fx.db.transaction((tx) => appendEvents(tx, batch)), []);
    } finally {
      await fx.drop();
    }
  });

  test(`appendEvents (${engine.name}) - a returned key the batch does not hold is an error naming the table and key`, async () => {
    const fx = await engine.create();
    try {
      await migrate(fx.db);
      const batch = events([deposit({ term: bytes32(2), amount: 10, total: 10 })]);
      const err = await fx.db
        .transaction(async (tx) => {
          // The real statement runs; its answer comes back with another log index, as a key
          // encoding that differs between the batch and the database would make it.
          const skewed: Queryable = {
            query: async (sql: string, params?: unknown[]) => {
              const res = await tx.query<{ transaction_hash: string; log_index: string }>(sql, params);
              return { ...res, rows: res.rows.map((r) => ({ ...r, log_index: `${r.log_index}0` })) };
            },
          } as Queryable;
          return appendEvents(skewed, batch);
        })
        .then(() => null, (e: unknown) => e as Error);
      assert.ok(err instanceof Error, "appendEvents must refuse");
      assert.match(err.message, /deposited_events: the journal returned key 0x[0-9a-f]{64}#00, which the batch does not hold/);
    } finally {
      await fx.drop();
    }
  });
}

test.run();
