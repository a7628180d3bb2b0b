/**
 * Actor kinds used by the runtime tests: a `ledger` whose state is the ordered list of numbers
 * appended to it, persisted as jsonb in its own table (real SQL on Postgres and PGlite), with
 * knobs the tests turn (a gate that holds a handler, failures to throw). A CHECK constraint
 * refuses a state marked `poison`, so a commit can really fail in the database.
 */
import { z } from "zod";
import type { ActorKind, KindOptions } from "../../supervisors/actor-kind.ts";
import type { Db, Queryable } from "../../db/db.ts";
import { InputError, RetryableError } from "../../protocols/errors.ts";

export interface LedgerState {
  entries: number[];
  poison?: boolean;
}

export interface LedgerKnobs {
  /** Entities whose handler throws a retryable error this many more times. */
  failures: Map<string, number>;
  /** Entities whose handler always throws a retryable error. */
  broken: Set<string>;
  /** While set, every handler throws this error (a dependency's outage: a real connection error). */
  outage: Error | null;
  /** When set, `append` waits for this promise before applying. */
  gate: Promise<void> | null;
  /** Messages handled, as `<id>:<type>` (to see retries). */
  handled: string[];
  /** Load calls, each with the ids loaded together. */
  loads: string[][];
  /** Load calls that fail (retryably) before loads succeed again. */
  loadFailures: number;
}

export function newKnobs(): LedgerKnobs {
  return { failures: new Map(), broken: new Set(), outage: null, gate: null, handled: [], loads: [], loadFailures: 0 };
}

export async function createLedgerTable(db: Db, table: string): Promise<void> {
  await db.query(
    `CREATE TABLE ${table} (entity_id text PRIMARY KEY, state jsonb NOT NULL, CONSTRAINT ${table}_no_poison CHECK (NOT (state ? 'poison')))`,
  );
}

export async function persistedEntries(db: Queryable, table: string, id: string): Promise<number[] | undefined> {
  const res = await db.query<{ state: LedgerState }>(`SELECT state FROM ${table} WHERE entity_id = $1`, [id]);
  return res.rows[0]?.state.entries;
}

export function ledgerKind(opts: {
  name?: string;
  table: string;
  knobs: LedgerKnobs;
  options?: Partial<KindOptions>;
  /** Where `forward` messages tell their number to (kind `name`, entity `to`). */
}): ActorKind<LedgerState, unknown> {
  const { table, knobs } = opts;
  return {
    kind: opts.name ?? "ledger",
    messages: {
      append: z.object({ n: z.number().int() }),
      get: z.object({}),
      poison: z.object({}),
      reject: z.object({ reason: z.string() }),
      forward: z.object({ n: z.number().int(), kind: z.string(), to: z.string() }),
      announce: z.object({ n: z.number().int() }),
    },
    initial: () => ({ entries: [] }),
    async load(db, ids) {
      knobs.loads.push([...ids]);
      if (knobs.loadFailures > 0) {
        knobs.loadFailures--;
        throw new RetryableError("database unavailable", { code: "db_down" });
      }
      const res = await db.query<{ entity_id: string; state: LedgerState }>(
        `SELECT entity_id, state FROM ${table} WHERE entity_id IN (SELECT jsonb_array_elements_text($1::jsonb))`,
        [JSON.stringify(ids)],
      );
      return new Map(res.rows.map((r) => [r.entity_id, r.state]));
    },
    async save(tx, entries) {
      await tx.query(
        `INSERT INTO ${table} (entity_id, state)
         SELECT x.entity_id, x.state FROM jsonb_to_recordset($1::jsonb) AS x(entity_id text, state jsonb)
         ORDER BY x.entity_id
         ON CONFLICT (entity_id) DO UPDATE SET state = excluded.state`,
        [JSON.stringify(entries.map((e) => ({ entity_id: e.entityId, state: e.state })))],
      );
    },
    async handle(state, msg, ctx) {
      knobs.handled.push(`${ctx.id}:${msg.type}`);
      if (knobs.outage) throw knobs.outage;
      if (knobs.broken.has(ctx.id)) throw new RetryableError(`${ctx.id} is broken`, { code: "broken" });
      const left = knobs.failures.get(ctx.id) ?? 0;
      if (left > 0) {
        knobs.failures.set(ctx.id, left - 1);
        throw new RetryableError(`${ctx.id} fails (${left} left)`, { code: "flaky" });
      }
      const body = msg.body as Record<string, unknown>;
      switch (msg.type) {
        case "append":
          if (knobs.gate) await knobs.gate;
          return { state: { ...state, entries: [...state.entries, body.n as number] }, reply: state.entries.length + 1 };
        case "get":
          return { state, reply: state.entries };
        case "poison":
          return { state: { ...state, poison: true }, reply: "poisoned" };
        case "reject":
          throw new InputError(`rejected: ${body.reason as string}`, { code: "rejected" });
        case "forward":
          ctx.tell(body.kind as string, body.to as string, "append", { n: body.n });
          return { state: { ...state, entries: [...state.entries, body.n as number] } };
        case "announce":
          ctx.emit("announced", { n: body.n });
          return { state: { ...state, entries: [...state.entries, body.n as number] } };
        default:
          throw new InputError(`unexpected ${msg.type}`);
      }
    },
    options: opts.options,
  };
}
