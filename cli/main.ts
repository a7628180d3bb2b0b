/**
 * `strata <command> [options]`: argument parsing (node:util parseArgs) and dispatch to
 * cli/commands/. Exit 0 on success; otherwise one line `strata <command>: <reason>` on stderr and
 * exit 1 (2 for a usage error).
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { ConfigError } from "../config/fields.ts";
import { processEnv } from "../config/process-env.ts";
import { UsageError } from "./commands/command.ts";
import type { CliIo, Command } from "./commands/command.ts";
import { configCommand } from "./commands/config.ts";
import { migrateCommand } from "./commands/migrate.ts";
import { startCommand } from "./commands/start.ts";
import { statusCommand } from "./commands/status.ts";
import { importCommand } from "./commands/import.ts";
import { replayCommand } from "./commands/replay.ts";
import { paymentsCommand } from "./commands/payments.ts";

export const COMMANDS: readonly Command[] = [startCommand, migrateCommand, statusCommand, importCommand, replayCommand, paymentsCommand, configCommand];

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "usage: strata <command> [options]",
    "",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Configuration comes from flags, then the environment, then defaults (docs/operations.md).",
    "`strata <command> --help` shows a command's options.",
  ].join("\n");
}

function commandHelp(c: Command): string {
  const opts = Object.entries(c.options).map(([name, o]) => `  --${name}${o.type === "string" ? " VALUE" : ""}`);
  return [`usage: ${c.usage}`, "", c.summary, "", "options:", ...opts].join("\n");
}

/** Node's parseArgs messages are long; keep the first sentence. */
function shortParseError(err: Error): string {
  return err.message.split(". ")[0].replace(/\.$/, "");
}

/** Run one invocation; returns the exit code. Exported for in-process use. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    io.out(help());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.err(`strata: unknown command ${JSON.stringify(name)} (commands: ${COMMANDS.map((c) => c.name).join(", ")})`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(commandHelp(command));
    return 0;
  }
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: [...rest], options: command.options, allowPositionals: command.allowPositionals ?? false, strict: true });
    } catch (err) {
      throw new UsageError(shortParseError(err as Error));
    }
    return await command.run({ values: parsed.values as Record<string, string | boolean | undefined>, positionals: parsed.positionals }, io);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    io.err(`strata ${command.name}: ${reason.replace(/\s*\n\s*/g, " ")}`);
    return err instanceof UsageError ? 2 : err instanceof ConfigError ? 1 : 1;
  }
}

const io: CliIo = {
  env: processEnv(),
  out: (line) => process.stdout.write(line + "\n"),
  err: (line) => process.stderr.write(line + "\n"),
  stopSignal: new Promise<string>((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
  }),
};

const code = await runCli(process.argv.slice(2), io);
process.exit(code);
