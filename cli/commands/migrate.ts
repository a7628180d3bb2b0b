/** `strata migrate`: apply the numbered SQL migrations (db/migrate.ts) to the configured database. */
import { loadConfig } from "../../config/load-config.ts";
import { embeddedPaths } from "../../config/paths.ts";
import { maskServiceUrl } from "../../config/redact.ts";
import { openDb } from "../../db/open-db.ts";
import { migrate } from "../../db/migrate.ts";
import { configFlagOptions, configFlags } from "./command.ts";
import type { Command } from "./command.ts";
import { KIND_SECTIONS } from "./kind-sections.ts";

export const migrateCommand: Command = {
  name: "migrate",
  summary: "apply database migrations (DATABASE_URL, or embedded PGlite under STRATA_DATA_DIR)",
  usage: "strata migrate [--database-url URL] [--data-dir DIR]",
  options: { ...configFlagOptions },
  async run(args, io) {
    const config = loadConfig(io.env, { flags: configFlags(args.values), sections: KIND_SECTIONS });
    const target = config.databaseUrl
      ? { databaseUrl: config.databaseUrl, label: maskServiceUrl(config.databaseUrl) }
      : { dataDir: embeddedPaths(config.dataDir).pglite, label: `embedded PGlite at ${embeddedPaths(config.dataDir).pglite}` };
    const db = await openDb({ ...target, poolSize: 2 });
    try {
      const { applied } = await migrate(db);
      if (applied.length === 0) io.out(`${target.label}: up to date, no migration to apply`);
      else io.out(`${target.label}: applied ${applied.length} migration${applied.length === 1 ? "" : "s"}: ${applied.join(", ")}`);
      return 0;
    } finally {
      await db.close();
    }
  },
};
