/** Public surface of the config module: the only reader of the environment. */
export { ConfigError, FieldParseError, field } from "./fields.ts";
export { maskServiceUrl, maskUrlPassword, literalScrubber, MASK, MIN_SCRUBBED_LENGTH } from "./redact.ts";
export type { SecretLiteral } from "./redact.ts";
export type { Field, FieldValue } from "./fields.ts";
export { defineSection, loadSection } from "./section.ts";
export type { SectionSpec, SectionValues, ValueSource, Fields } from "./section.ts";
export { coreConfig, ALL_KINDS, BUILT_KINDS, LOG_LEVELS } from "./core.ts";
export { vaultTermConfig, workerPartitionConfig, paymentsConfig, operatorConfig, DOMAIN_SECTIONS } from "./domain-sections.ts";
export { loadConfig, configSections, knownConfigKeys, secretConfigKeys } from "./load-config.ts";
export type { StrataConfig, CoreConfig, ConfigEntry, LoadConfigOptions } from "./load-config.ts";
export { processEnv, loadProcessConfig } from "./process-env.ts";
export { embeddedPaths } from "./paths.ts";
export type { EmbeddedPaths } from "./paths.ts";
