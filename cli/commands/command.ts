/**
 * What a `strata` subcommand is: its options (node:util parseArgs), a one-line summary, and a run
 * function that returns the exit code. Failures throw: UsageError (exit 2) for bad arguments,
 * anything else exits 1; main.ts prints either as one line `strata <command>: <reason>`.
 */
import type { ParseArgsConfig } from "node:util";

export interface CliIo {
  /** The environment snapshot (config/process-env.ts); commands never read process.env. */
  env: Readonly<Record<string, string | undefined>>;
  out(line: string): void;
  err(line: string): void;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM); used by `start`. */
  stopSignal: Promise<string>;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig["options"]>;
  /** Whether positionals are accepted (default none). */
  allowPositionals?: boolean;
  run(args: ParsedArgs, io: CliIo): Promise<number>;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Options every command that reads config accepts; each maps to the config key it overrides. */
export const CONFIG_FLAGS = {
  "data-dir": "STRATA_DATA_DIR",
  "database-url": "DATABASE_URL",
  "nats-url": "NATS_URL",
  "redis-url": "REDIS_URL",
  partitions: "STRATA_PARTITIONS",
  kinds: "STRATA_KINDS",
  "admin-host": "ADMIN_HOST",
  "admin-port": "ADMIN_PORT",
  "log-level": "LOG_LEVEL",
} as const;

export const configFlagOptions: NonNullable<ParseArgsConfig["options"]> = Object.fromEntries(
  Object.keys(CONFIG_FLAGS).map((flag) => [flag, { type: "string" as const }]),
);

/** `--admin-port 9000` → `{ ADMIN_PORT: "9000" }` for loadConfig's flags. */
export function configFlags(values: ParsedArgs["values"]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [flag, key] of Object.entries(CONFIG_FLAGS)) {
    const v = values[flag];
    if (typeof v === "string") out[key] = v;
  }
  return out;
}
