/**
 * `strata start`: run a host (embedded by default, all kinds, admin endpoint on ADMIN_PORT) until
 * SIGINT/SIGTERM. The host itself is `startHost(config)` in supervisors/host.ts; this command
 * only loads the config, calls it, and stops it on a signal.
 */
import { loadConfig } from "../../config/load-config.ts";
import { configFlagOptions, configFlags } from "./command.ts";
import type { Command } from "./command.ts";
import { KIND_SECTIONS } from "./kind-sections.ts";

/** Loaded on use, so `strata migrate` / `status` do not import the whole host. */
async function loadStartHost(): Promise<typeof import("../../supervisors/host.ts").startHost> {
  const mod = await import("../../supervisors/host.ts");
  return mod.startHost;
}

export const startCommand: Command = {
  name: "start",
  summary: "run a Strata host (embedded mode unless service URLs are set) until SIGINT/SIGTERM",
  usage: "strata start [--admin-port N] [--kinds a,b] [--data-dir DIR] [--database-url URL] [--nats-url URL]",
  options: { ...configFlagOptions },
  async run(args, io) {
    const config = loadConfig(io.env, { flags: configFlags(args.values), sections: KIND_SECTIONS });
    for (const key of config.unknownKeys) io.err(`strata start: warning: ${key} is not a Strata setting (typo?)`);
    const startHost = await loadStartHost();
    const host = await startHost(config);
    const signal = await io.stopSignal;
    io.err(`strata start: ${signal}, stopping`);
    await host.stop();
    return 0;
  },
};
