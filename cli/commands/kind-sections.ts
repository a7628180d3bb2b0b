/**
 * The config sections the kinds declare in their own folders, passed to loadConfig by every
 * command so all keys are validated at once and `strata config` shows them. A kind that adds a
 * `config.ts` with `defineSection(...)` is listed here.
 */
import type { SectionSpec } from "../../config/section.ts";
import { vaultTermConfig } from "../../actors/vault-term/config.ts";
import { workerPartitionSection } from "../../actors/worker-partition/config.ts";
import { paymentsConfig } from "../../actors/worker-partition/payments/config.ts";

export const KIND_SECTIONS: readonly SectionSpec[] = [vaultTermConfig, workerPartitionSection, paymentsConfig];
