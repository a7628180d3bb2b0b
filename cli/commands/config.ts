/** `strata config`: print the effective configuration (secrets redacted) and where each value came from. */
import { loadConfig } from "../../config/load-config.ts";
import { configFlagOptions, configFlags } from "./command.ts";
import type { Command } from "./command.ts";
import { KIND_SECTIONS } from "./kind-sections.ts";

export const configCommand: Command = {
  name: "config",
  summary: "print the effective configuration (secrets redacted) and each value's source; exit 1 on a bad value",
  usage: "strata config [--json] [config flags]",
  options: { ...configFlagOptions, json: { type: "boolean" } },
  async run(args, io) {
    const config = loadConfig(io.env, { flags: configFlags(args.values), sections: KIND_SECTIONS });
    const entries = config.describe();
    if (args.values.json) {
      io.out(JSON.stringify({ entries, unknownKeys: config.unknownKeys }));
      return 0;
    }
    const keyWidth = Math.max(...entries.map((e) => e.key.length));
    let section = "";
    for (const e of entries) {
      if (e.section !== section) {
        section = e.section;
        io.out(`[${section}]`);
      }
      io.out(`  ${e.key.padEnd(keyWidth)}  ${(e.value === "" ? "(unset)" : e.value).padEnd(24)}  ${e.source}`);
    }
    for (const key of config.unknownKeys) io.err(`strata config: warning: ${key} is not a Strata setting (typo?)`);
    return 0;
  },
};
