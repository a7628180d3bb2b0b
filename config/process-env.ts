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

/**
 * What a helper process (embedded s3rver, anvil) gets of our environment: where programs are
 * (PATH), a home and temp directory, locale and time zone — never a setting or a secret
 * (ETH_PRIVATE_KEY, ADMIN_TOKEN, DATABASE_URL, …); `extra` adds what that child needs itself.
 */
export const CHILD_ENV_KEYS = ["PATH", "HOME", "TMPDIR", "TMP", "TEMP", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "SYSTEMROOT"] as const;

export function childProcessEnv(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of CHILD_ENV_KEYS) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return { ...env, ...extra };
}
