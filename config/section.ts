/**
 * A config section: a named group of fields that one part of Strata owns. The core section lives
 * in config/core.ts; an entity kind declares its own in its folder (e.g.
 * `actors/vault-term/config.ts`: `export const vaultTermConfig = defineSection("vault-term", {...})`)
 * and the host passes it to loadConfig. Sections may share an environment key (REDIS_URL):
 * each parses it with its own field.
 */
import { ConfigError, FieldParseError, maskUrlPassword } from "./fields.ts";
import type { Field, FieldValue } from "./fields.ts";

export type Fields = Readonly<Record<string, Field<unknown>>>;

export interface SectionSpec<F extends Fields = Fields> {
  readonly name: string;
  readonly fields: F;
}

export type SectionValues<S extends SectionSpec> = { readonly [K in keyof S["fields"]]: FieldValue<S["fields"][K]> };

/** Where each value came from (for `describe()` and `strata status`). */
export type ValueSource = "flag" | "env" | "default" | "unset";

export function defineSection<const F extends Fields>(name: string, fields: F): SectionSpec<F> {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new TypeError(`config section name ${JSON.stringify(name)} must be lower-case words joined by '-'`);
  return Object.freeze({ name, fields: Object.freeze({ ...fields }) });
}

export interface Inputs {
  /** Highest precedence: command-line flags, keyed by environment key (`ADMIN_PORT`). */
  flags: Readonly<Record<string, string | undefined>>;
  env: Readonly<Record<string, string | undefined>>;
}

/** An empty or blank string counts as unset (so `FOO=` in a .env or compose file means "default"). */
function pick(inputs: Inputs, key: string): { raw: string; source: ValueSource } | undefined {
  const flag = inputs.flags[key];
  if (flag !== undefined && flag.trim() !== "") return { raw: flag, source: "flag" };
  const env = inputs.env[key];
  if (env !== undefined && env.trim() !== "") return { raw: env, source: "env" };
  return undefined;
}

export interface LoadedSection<S extends SectionSpec> {
  values: SectionValues<S>;
  sources: Readonly<Record<string, ValueSource>>;
}

/** Parse one section; collects every problem of the section into one ConfigError. */
export function loadSection<S extends SectionSpec>(spec: S, inputs: Inputs): LoadedSection<S> {
  const values: Record<string, unknown> = {};
  const sources: Record<string, ValueSource> = {};
  const problems: string[] = [];
  for (const [name, f] of Object.entries(spec.fields)) {
    const given = pick(inputs, f.env);
    if (given === undefined) {
      if (f.required && f.default === undefined) problems.push(`${f.env}: required (${f.expected}), but it is not set`);
      values[name] = f.default;
      sources[name] = f.default === undefined ? "unset" : "default";
      continue;
    }
    try {
      values[name] = f.parse(given.raw);
      sources[name] = given.source;
    } catch (err) {
      if (err instanceof FieldParseError) {
        const got = f.secret ? "[Redacted]" : maskUrlPassword(err.got);
        problems.push(`${f.env}${given.source === "flag" ? " (flag)" : ""}: expected ${err.expected}, got ${JSON.stringify(got)}`);
      } else throw err;
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { values: Object.freeze(values) as SectionValues<S>, sources: Object.freeze(sources) };
}
