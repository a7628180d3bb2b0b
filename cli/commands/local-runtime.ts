/**
 * A small runtime for one-shot commands (`strata import`, `strata replay`): config → db
 * (db/open-db.ts: DATABASE_URL, else embedded PGlite under STRATA_DATA_DIR) → migrate → the
 * in-process transport → DeadLetterStore → ActorSystem with the asked kinds registered. The
 * command runs its work, then `close()` waits until every actor is idle and stops everything in
 * reverse order. No ingress, no schedules, no payments: a one-shot command never pays.
 */
import pino from "pino";
import type { Logger } from "pino";
import type { StrataConfig } from "../../config/load-config.ts";
import { embeddedPaths } from "../../config/paths.ts";
import { maskServiceUrl } from "../../config/redact.ts";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { openDb } from "../../db/open-db.ts";
import type { Db } from "../../db/db.ts";
import { migrate } from "../../db/migrate.ts";
import { DeadLetterStore } from "../../db/dead-letter-store.ts";
import { ActorSystem } from "../../supervisors/actor-system.ts";
import { systemClock } from "../../supervisors/clock.ts";
import type { Clock } from "../../supervisors/clock.ts";
import { createMemoryTransport } from "../../supervisors/transport/memory-transport.ts";
import type { Transport } from "../../supervisors/transport/transport.ts";
import { registerVaultTermKinds } from "../../actors/vault-term/register-kinds.ts";
import { vaultTermConfig } from "../../actors/vault-term/config.ts";
import { registerWorkerPartition } from "../../actors/worker-partition/wire.ts";
import type { JournalTail } from "../../actors/worker-partition/journal-tail.ts";
import { workerPartitionSettings } from "../../actors/worker-partition/config.ts";
import { paymentsConfig } from "../../actors/worker-partition/payments/config.ts";

/** The kinds a one-shot command can run here. */
export const LOCAL_KINDS = ["vault-term", "worker-partition"] as const;
export type LocalKind = (typeof LOCAL_KINDS)[number];

export function isLocalKind(kind: string): kind is LocalKind {
  return (LOCAL_KINDS as readonly string[]).includes(kind);
}

export interface LocalRuntime {
  readonly config: StrataConfig;
  readonly db: Db;
  /** Printable description of the database (password masked). */
  readonly dbLabel: string;
  readonly transport: Transport;
  readonly deadLetters: DeadLetterStore;
  readonly system: ActorSystem;
  /** The journal tail of the worker-partition actors (when that kind is registered): for its ingest. */
  readonly workerPartitionTail: JournalTail | null;
  readonly log: Logger;
  /** Waits until every actor is idle, then stops the system, transport and db (safe to call twice). */
  close(): Promise<void>;
}

export interface LocalRuntimeOptions {
  kinds: readonly LocalKind[];
  /** Default: silent (commands print their own summary). */
  log?: Logger;
  clock?: Clock;
}

/**
 * The database the configuration selects, migrated. `existing`: for commands that only read or
 * act on what is there (payments, replay): without DATABASE_URL, the embedded database must have
 * been created already (by `strata start` or `strata import`) — otherwise an error says so,
 * instead of creating an empty one under DATA_DIR and answering from it.
 */
export async function openConfiguredDb(config: StrataConfig, poolSize = 4, opts: { existing?: boolean } = {}): Promise<{ db: Db; label: string }> {
  if (opts.existing && !config.databaseUrl) {
    const dir = embeddedPaths(config.dataDir).pglite;
    if (!existsSync(join(dir, "PG_VERSION"))) {
      throw new Error(`no database: DATABASE_URL is not set and there is no embedded database at ${dir} (strata start or strata import creates it; set STRATA_DATA_DIR if it is elsewhere)`);
    }
  }
  const db = config.databaseUrl
    ? await openDb({ databaseUrl: config.databaseUrl, poolSize })
    : await openDb({ dataDir: embeddedPaths(config.dataDir).pglite });
  const label = config.databaseUrl ? maskServiceUrl(config.databaseUrl) : `embedded PGlite at ${embeddedPaths(config.dataDir).pglite}`;
  try {
    await migrate(db);
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
  return { db, label };
}

export async function openLocalRuntime(config: StrataConfig, opts: LocalRuntimeOptions): Promise<LocalRuntime> {
  const log = opts.log ?? pino({ level: "silent" });
  const clock = opts.clock ?? systemClock;
  const { db, label } = await openConfiguredDb(config);
  const transport = createMemoryTransport({ clock });
  const deadLetters = new DeadLetterStore(db, { transport, log });
  const system = new ActorSystem({ db, transport, clock, log, deadLetters, partitions: config.partitions });
  let workerPartitionTail: JournalTail | null = null;
  try {
    for (const kind of opts.kinds) {
      if (kind === "vault-term") registerVaultTermKinds(system, { db, partitions: config.partitions, workers: config.section(vaultTermConfig).workers });
      else workerPartitionTail = registerWorkerPartition(system, workerPartitionSettings(config), { paymentThresholdWei: config.section(paymentsConfig).paymentThresholdWei });
    }
    await system.start();
  } catch (err) {
    await system.stop().catch(() => {});
    await transport.close().catch(() => {});
    await db.close().catch(() => {});
    throw err;
  }
  let closing: Promise<void> | null = null;
  return {
    config,
    db,
    dbLabel: label,
    transport,
    deadLetters,
    system,
    workerPartitionTail,
    log,
    close: () =>
      (closing ??= (async () => {
        try {
          await system.whenIdle();
          await system.stop();
        } finally {
          await transport.close().catch(() => {});
          await db.close();
        }
      })()),
  };
}
