/**
 * The vault-term actor kind: ONE actor per term (atom, triple or counter-triple id), the single
 * writer of that term's rows (term, atom / triple, every vault, every position) — decision 7:
 * no advisory locks.
 *
 * Flow: the Redis reader commits the batch's events to the journal (the event tables, ON
 * CONFLICT DO NOTHING RETURNING gives the fresh ones) and bumps each term's journaled count in
 * the same transaction, acknowledges after the commit, and sends each term the fresh events
 * (`apply` {events, journaled}). The actor keeps its term state resident (loaded once, many ids
 * per query), applies the pure reducer in place, and the runtime's group commit writes many
 * terms at once (`save`: one multi-row upsert per table, keys sorted, with each term's applied
 * count and its analytics queue row in the same transaction), over `commit.lanes` lanes, once
 * per commit window (`commitWindowMs`, default 6 s): a term touched by many reader batches in
 * a window is written once. The journal commit and the reader's ack never wait for the window.
 *
 * Catch-up (spine rule 1): the state records how many of the term's journal events it has
 * applied. A message is applied as is only when applied + |new events| equals the journaled
 * count the reader got back from its commit, i.e. the actor has every earlier event. Otherwise
 * (a crash between the journal commit and the actor's commit, a lost or reordered message, a
 * failed group commit) the actor rebuilds the term from the event tables: the reducer is
 * order-independent, so the rebuilt state is exact, and the event keys it read are remembered
 * so that a message still on its way with some of them applies nothing twice. `catchup`
 * {journaled} (the sweep, `catchUpVaultTerms`) rebuilds a term that is behind and gets no
 * message.
 */
import type { ActorContext, ActorKind, KindOptions, SaveResult } from "../../supervisors/actor-kind.ts";
import type { Envelope } from "../../protocols/envelope.ts";
import type { Queryable } from "../../db/db.ts";
import { InputError } from "../../protocols/errors.ts";
import { DEFAULT_PARTITIONS } from "../../protocols/partition.ts";
import type { TermEvent } from "./events.ts";
import { eventKey } from "./event-journal.ts";
import { noChanges, reduceTermInto, type TermChanges } from "./reducer.ts";
import { emptyTermState, type TermState } from "./term-state.ts";
import { loadTermStates, saveTermStates } from "./term-store.ts";
import { laggingTerms, loadApplied, loadJournaled, readTermEvents, setApplied } from "./term-progress.ts";
import type { ActorSystem } from "../../supervisors/actor-system.ts";
import { analyticsTargets, TERM_UPDATED, TRIPLE_ANALYTICS_KIND } from "./triple-analytics-kind.ts";

export const VAULT_TERM_ACTOR_KIND = "vault-term";
export const APPLY = "apply";
export const CATCHUP = "catchup";

export interface ApplyBody {
  /** Fresh events of this term (a TripleCreated is sent to its term and its counter term). */
  events: TermEvent[];
  /** The term's journaled count returned by the commit that appended them. */
  journaled: number;
}

/** Mutable part of a term actor (the reducer works in place). */
export interface TermActorCore {
  term: TermState;
  /** Journal events of this term applied to `term` (persisted in vault_term_applied). */
  applied: number;
  /** Rows changed since the last group commit started. */
  dirty: TermChanges;
  /** Event keys read by the last rebuild: a message still carrying them applies nothing twice. */
  seen: Set<string> | null;
}

/** A fresh wrapper per change (the runtime detects a change by reference); `core` is shared. */
export interface TermActorState {
  core: TermActorCore;
}

export interface VaultTermKindOptions {
  /** Tell the triple-analytics partition actors after commit (default true). */
  analytics?: boolean;
  partitions?: number;
  /** Concurrent group-commit transactions (default 1; 2–4 on a Postgres server, 1 on PGlite). */
  lanes?: number;
  /** Actors per group-commit transaction (default 10,000: a window holds several reader batches). */
  maxBatch?: number;
  /** Resident cap (default 1,000,000: a term's state is small). */
  maxResident?: number;
  /**
   * Commit window in ms (default 6000; 0 = commit at the end of each burst): a term's rows are
   * written once per window however many reader batches touched it. Only the term state's commit
   * waits; the reader's journal commit and ack do not (asks and whenIdle do not wait either).
   */
  commitWindowMs?: number;
}

/** Default commit window of the term actors (see docs/vault-term.md, Benchmark). */
export const VAULT_TERM_COMMIT_WINDOW_MS = 6000;

function core(term: TermState, applied: number): TermActorState {
  return { core: { term, applied, dirty: noChanges(), seen: null } };
}

/** Rebuild the term from every journal event of it. */
async function rebuild(c: TermActorCore, ctx: ActorContext): Promise<void> {
  const events = await readTermEvents(ctx.db, ctx.id);
  const state = emptyTermState(ctx.id);
  const changes = noChanges();
  reduceTermInto(state, events, changes);
  changes.analytics ||= c.dirty.analytics;
  c.term = state;
  c.dirty = changes;
  c.applied = events.length;
  c.seen = new Set(events.map(eventKey));
  ctx.log.info({ term: ctx.id, events: events.length }, "vault-term actor rebuilt its term from the journal");
}

export function vaultTermKind(opts: VaultTermKindOptions = {}): ActorKind<TermActorState> {
  const partitions = opts.partitions ?? DEFAULT_PARTITIONS;
  const analytics = opts.analytics ?? true;
  const options: Partial<KindOptions> = {
    maxResident: opts.maxResident ?? 1_000_000,
    commit: {
      maxBatch: opts.maxBatch ?? 10_000,
      lanes: opts.lanes ?? 1,
      windowMs: opts.commitWindowMs ?? VAULT_TERM_COMMIT_WINDOW_MS,
    },
  };
  return {
    kind: VAULT_TERM_ACTOR_KIND,
    options,
    initial: (id) => core(emptyTermState(id), 0),
    async load(db: Queryable, ids: readonly string[]) {
      const applied = await loadApplied(db, ids);
      // Terms never applied have no rows: only the others are read.
      const known = ids.filter((id) => (applied.get(id) ?? 0) > 0);
      const states = await loadTermStates(db, known, "all");
      const out = new Map<string, TermActorState>();
      for (const id of known) out.set(id, core(states.get(id)!, applied.get(id)!));
      return out;
    },
    async handle(state: TermActorState, msg: Envelope, ctx: ActorContext) {
      const c = state.core;
      if (msg.type === APPLY) {
        const body = msg.body as ApplyBody;
        let fresh: TermEvent[];
        if (body.events.length === 1 && !c.seen) {
          // The common message: one event, no rebuild's keys to check it against.
          fresh = body.events;
        } else {
          const keys = new Set<string>();
          fresh = [];
          for (const e of body.events) {
            const key = eventKey(e);
            if (keys.has(key) || c.seen?.has(key)) continue;
            keys.add(key);
            fresh.push(e);
          }
        }
        if (fresh.length === 0) return { state };
        if (c.applied + fresh.length === body.journaled) {
          reduceTermInto(c.term, fresh, c.dirty);
          c.applied += fresh.length;
        } else {
          await rebuild(c, ctx);
        }
      } else if (msg.type === CATCHUP) {
        const journaled = Math.max(Number((msg.body as { journaled?: number }).journaled ?? 0), await loadJournaled(ctx.db, ctx.id));
        if (c.applied >= journaled) return { state };
        await rebuild(c, ctx);
      } else {
        throw new InputError(`vault-term: unknown message type ${msg.type}`, { code: "unknown_type" });
      }
      return { state: { core: c } };
    },
    async save(tx: Queryable, entries: readonly { entityId: string; state: TermActorState }[]): Promise<SaveResult | void> {
      // Snapshot synchronously: the actors keep applying (in place) while this commits.
      const rows: { state: TermState; changes: TermChanges }[] = [];
      const applied = new Map<string, number>();
      const analyticsTerms: string[] = [];
      for (const { entityId, state } of entries) {
        const c = state.core;
        rows.push({ state: c.term, changes: c.dirty });
        applied.set(entityId, c.applied);
        if (c.dirty.analytics) analyticsTerms.push(entityId);
        c.dirty = noChanges();
      }
      const written = saveTermStates(tx, rows); // builds its statements before its first await
      await written;
      await setApplied(tx, applied);
      if (analyticsTerms.length > 0) {
        await tx.query(
          `INSERT INTO term_update_queue (term_id)
           SELECT t FROM unnest($1::text[]) AS u(t) ORDER BY t
           ON CONFLICT (term_id) WHERE processed_at IS NULL DO UPDATE SET version = term_update_queue.version + 1`,
          [analyticsTerms.sort()],
        );
      }
      // After the commit, one term-updated per analytics partition for the whole group.
      if (!analytics || analyticsTerms.length === 0) return;
      return {
        tells: [...analyticsTargets(analyticsTerms, partitions)].map(([id, termIds]) => ({ kind: TRIPLE_ANALYTICS_KIND, id, type: TERM_UPDATED, body: { termIds } })),
      };
    },
  };
}

/**
 * The catch-up sweep: tell every term whose applied count is behind the journal to catch up
 * (`catchup`), e.g. at start after a crash between a journal commit and the actors' commit.
 * Returns the number of terms told. A term that is only behind because its messages are still
 * in flight rebuilds too (correct, merely extra work), so run it at start and rarely.
 */
export async function catchUpVaultTerms(db: Queryable, system: Pick<ActorSystem, "send">): Promise<number> {
  const lagging = await laggingTerms(db);
  for (const [term, journaled] of lagging) await system.send(VAULT_TERM_ACTOR_KIND, term, CATCHUP, { journaled });
  return lagging.size;
}
