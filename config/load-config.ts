/**
 * loadConfig: flags → environment → defaults, for the core section and every domain section,
 * into one frozen, typed object. A bad value fails fast with a ConfigError naming each bad key
 * (`STRATA_PARTITIONS: expected a positive integer, got "abc"`).
 */
import { coreConfig } from "./core.ts";
import { DOMAIN_SECTIONS } from "./domain-sections.ts";
import { ConfigError } from "./fields.ts";
import type { Field } from "./fields.ts";
import { REDACTED, maskUrlPassword } from "./redact.ts";
import type { SecretLiteral } from "./redact.ts";
import { loadSection } from "./section.ts";
import type { Inputs, SectionSpec, SectionValues, ValueSource } from "./section.ts";

export type CoreConfig = SectionValues<typeof coreConfig>;

export interface ConfigEntry {
  section: string;
  key: string;
  /** Printable value: secrets `[Redacted]`, URLs as `scheme://host:port` with the rest masked, unset `""`. */
  value: string;
  source: ValueSource;
  description: string;
}

export interface StrataConfig extends CoreConfig {
  /** Values of a section (a predeclared one, one passed to loadConfig, or parsed on first use). */
  section<S extends SectionSpec>(spec: S): SectionValues<S>;
  /** Names of the loaded sections, `core` first. */
  readonly sectionNames: readonly string[];
  /** Every key with its printable value and where it came from. */
  describe(): ConfigEntry[];
  /** `STRATA_*` keys present in the environment that no section declares (likely typos). */
  readonly unknownKeys: readonly string[];
  /**
   * The values log lines and admin answers must never contain, with what to show instead: each
   * secret field's value (`[Redacted]`; a 0x-hex key also without its `0x`) and each URL field's
   * value (as `describe()` shows it), for the logger's and the admin server's scrub.
   */
  secretLiterals(): SecretLiteral[];
}

export interface LoadConfigOptions {
  /** Command-line values keyed by environment key (`{ ADMIN_PORT: "9000" }`): highest precedence. */
  flags?: Readonly<Record<string, string | undefined>>;
  /** Sections contributed by kinds; one with a predeclared name replaces the predeclared one. */
  sections?: readonly SectionSpec[];
}

/** The sections loadConfig reads: core, the predeclared domain ones, then the passed ones by name. */
export function configSections(extra: readonly SectionSpec[] = []): SectionSpec[] {
  const byName = new Map<string, SectionSpec>([[coreConfig.name, coreConfig]]);
  for (const s of DOMAIN_SECTIONS) byName.set(s.name, s);
  for (const s of extra) {
    if (s.name === coreConfig.name) throw new TypeError("a kind may not replace the core config section");
    byName.set(s.name, s);
  }
  return [...byName.values()];
}

/** Every environment key Strata knows (core + domain sections + the given ones). */
export function knownConfigKeys(extra: readonly SectionSpec[] = []): Set<string> {
  const keys = new Set<string>();
  for (const s of configSections(extra)) for (const f of Object.values(s.fields)) keys.add(f.env);
  return keys;
}

/** Keys whose values must never be printed (for the logger's redaction list). */
export function secretConfigKeys(extra: readonly SectionSpec[] = []): Set<string> {
  const keys = new Set<string>();
  for (const s of configSections(extra)) for (const f of Object.values(s.fields)) if (f.secret) keys.add(f.env);
  return keys;
}


/** A value as people see it: secrets `[Redacted]`, the field's own form (URLs; a rate as its decimal), else the text with URL passwords masked. */
function printable(f: Field<unknown>, v: unknown): string {
  if (f.secret) return REDACTED;
  if (f.shownAs) return f.shownAs(v);
  if (f.asText) return f.asText(v);
  return maskUrlPassword(Array.isArray(v) ? v.join(",") : String(v));
}

export function loadConfig(env: Readonly<Record<string, string | undefined>>, opts: LoadConfigOptions = {}): StrataConfig {
  const inputs: Inputs = { flags: { ...(opts.flags ?? {}) }, env: { ...env } };
  const specs = configSections(opts.sections);
  const loaded = new Map<string, { spec: SectionSpec; values: Record<string, unknown>; sources: Record<string, ValueSource> }>();
  const problems: string[] = [];
  for (const spec of specs) {
    try {
      const { values, sources } = loadSection(spec, inputs);
      loaded.set(spec.name, { spec, values, sources });
    } catch (err) {
      if (err instanceof ConfigError) problems.push(...err.problems);
      else throw err;
    }
  }
  if (problems.length > 0) throw new ConfigError([...new Set(problems)]);

  const known = knownConfigKeys(opts.sections);
  const unknownKeys = Object.keys(env).filter((k) => k.startsWith("STRATA_") && !known.has(k)).sort();
  const core = loaded.get(coreConfig.name)!.values as CoreConfig;

  const config: StrataConfig = {
    ...core,
    sectionNames: Object.freeze(specs.map((s) => s.name)),
    unknownKeys: Object.freeze(unknownKeys),
    section<S extends SectionSpec>(spec: S): SectionValues<S> {
      const hit = loaded.get(spec.name);
      if (hit && hit.spec === spec) return hit.values as SectionValues<S>;
      // A section declared after loading (or a different spec under a loaded name): parse it now.
      return loadSection(spec, inputs).values;
    },
    describe(): ConfigEntry[] {
      const out: ConfigEntry[] = [];
      for (const { spec, values, sources } of loaded.values()) {
        for (const [name, f] of Object.entries(spec.fields)) {
          const v = values[name];
          out.push({ section: spec.name, key: f.env, value: v === undefined ? "" : printable(f, v), source: sources[name], description: f.description });
        }
      }
      return out;
    },
    secretLiterals(): SecretLiteral[] {
      const out: SecretLiteral[] = [];
      for (const { spec, values } of loaded.values()) {
        for (const [name, f] of Object.entries(spec.fields)) {
          const v = values[name];
          if (v === undefined || v === null) continue;
          const text = String(v);
          if (f.secret) {
            out.push({ value: text, shownAs: REDACTED });
            if (/^0x[0-9a-f]{16,}$/i.test(text)) out.push({ value: text.slice(2), shownAs: REDACTED });
          } else if (f.shownAs) {
            const shown = printable(f, v);
            if (shown !== text) out.push({ value: text, shownAs: shown });
          }
        }
      }
      return out;
    },
  };
  return Object.freeze(config);
}
