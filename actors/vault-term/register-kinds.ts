/**
 * The two actor kinds of vault-term on an actor system, registered the same way by a host
 * (`startVaultTerm`) and by a one-shot command (`strata import`): `vault-term` (one actor per
 * term, the single writer of its rows) and `vault-term-analytics` (one actor per partition).
 * Every ingress — the Redis reader, the sample file of embedded mode, `strata import` — journals
 * a batch and sends each term's fresh events to these actors (`journalAndSendInLanes`).
 */
import type { ActorSystem } from "../../supervisors/actor-system.ts";
import type { Db } from "../../db/db.ts";
import { DEFAULT_PARTITIONS } from "../../protocols/partition.ts";
import { vaultTermKind, VAULT_TERM_ACTOR_KIND } from "./term-actor-kind.ts";
import { tripleAnalyticsKind, TRIPLE_ANALYTICS_KIND } from "./triple-analytics-kind.ts";

export const VAULT_TERM_ACTOR_KINDS = [VAULT_TERM_ACTOR_KIND, TRIPLE_ANALYTICS_KIND] as const;

export interface RegisterVaultTermOptions {
  db: Pick<Db, "dialect">;
  partitions?: number;
  /** WORKERS: the term actors commit over min(4, workers) lanes (1 on PGlite: one backend). */
  workers?: number;
  /** Analytics lag per committed analytics write (metrics). */
  onAnalyticsCommitted?(lagSeconds: number[]): void;
}

export function registerVaultTermKinds(system: Pick<ActorSystem, "register">, opts: RegisterVaultTermOptions): void {
  const partitions = opts.partitions ?? DEFAULT_PARTITIONS;
  const lanes = opts.db.dialect === "pglite" ? 1 : Math.min(4, Math.max(1, opts.workers ?? 1));
  system.register(tripleAnalyticsKind({ partitions, onCommitted: opts.onAnalyticsCommitted }));
  system.register(vaultTermKind({ partitions, lanes }));
}
