/**
 * The one place Strata reads the process environment. Everything else receives a config
 * (loadConfig) or this snapshot; nothing else touches `process.env`.
 */
import process from "node:process";
import { loadConfig } from "./load-config.ts";
import type { LoadConfigOptions, StrataConfig } from "./load-config.ts";

/** A copy of the process environment. */
export function processEnv(): Record<string, string | undefined> {
  return { ...process.env };
}

/** loadConfig over the process environment. */
export function loadProcessConfig(opts: LoadConfigOptions = {}): StrataConfig {
  return loadConfig(processEnv(), opts);
}
