/**
 * Drives an ActorKind the way the runtime does (load → activate → handle → save in one
 * transaction), one actor at a time, for kind tests that must not depend on the whole actor system.
 */
import pino from "pino";
import type { ActorContext, ActorKind } from "../../../supervisors/actor-kind.ts";
import { SimulatedClock } from "../../../supervisors/clock.ts";
import { makeEnvelope } from "../../../protocols/envelope.ts";
import { partitionOf } from "../../../protocols/partition.ts";
import type { Db } from "../../../db/db.ts";

export class KindHarness<S, R> {
  private states = new Map<string, S>();
  constructor(readonly kind: ActorKind<S, R>, readonly db: Db) {}

  private ctx(id: string): ActorContext {
    return {
      kind: this.kind.kind,
      id,
      partition: partitionOf(id),
      clock: new SimulatedClock(0),
      log: pino({ level: "silent" }),
      db: this.db,
      tell() {},
      emit() {},
    };
  }

  private async commit(id: string, state: S): Promise<void> {
    await this.db.transaction((tx) => this.kind.save(tx, [{ entityId: id, state }]));
  }

  /** Activates (load + catch-up, committed when it changed) if not resident. */
  async activate(id: string): Promise<S> {
    let s = this.states.get(id);
    if (s !== undefined) return s;
    const loaded = (await this.kind.load(this.db, [id])).get(id);
    s = loaded ?? this.kind.initial(id);
    if (this.kind.activate) {
      const next = await this.kind.activate(s, this.ctx(id));
      if (next !== s) await this.commit(id, next);
      s = next;
    }
    this.states.set(id, s);
    return s;
  }

  /** Handles one message; commits when the state changed (save throws → the actor is dropped, as on commit failure). */
  async send(id: string, type: string, body: unknown = {}, opts: { failSave?: boolean } = {}): Promise<R | undefined> {
    const s = await this.activate(id);
    const out = await this.kind.handle(s, makeEnvelope(this.kind.kind, type, body), this.ctx(id));
    if (out.state !== s) {
      try {
        await this.db.transaction(async (tx) => {
          await this.kind.save(tx, [{ entityId: id, state: out.state }]);
          if (opts.failSave) throw new Error("simulated commit failure");
        });
      } catch (err) {
        this.states.delete(id);
        throw err;
      }
    }
    this.states.set(id, out.state);
    return out.reply;
  }

  /** Forgets resident actors (as a restart does): the next message reloads from the database. */
  forget(): void {
    this.states.clear();
  }
}
