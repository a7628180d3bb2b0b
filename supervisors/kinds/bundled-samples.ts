/**
 * Whether a host loads the bundled sample events (samples/) into its embedded ingress parts
 * (STRATA_SAMPLES, pure).
 *
 * Embedded mode is a throwaway world: PGlite under STRATA_DATA_DIR, the dev chain, the sample
 * events. A host given a real database or a real chain but no S3_ENDPOINT / REDIS_URL still runs
 * the embedded s3rver / sample ingress for those parts; loading the samples there would put
 * made-up fees into a real fee ledger, and with a real ETH_RPC_ENDPOINT the payment schedule
 * would pay them in real ETH to the sample addresses (a newcomer review found exactly that). So:
 * - `auto` (default): only with the embedded database and the dev chain (neither DATABASE_URL nor
 *   ETH_RPC_ENDPOINT set);
 * - `on`: always, except with ETH_RPC_ENDPOINT, which is refused at start by the worker-partition
 *   kind (its payments would pay them);
 * - `off`: never (the embedded parts run empty: put files into the embedded s3rver yourself).
 * An explicitly named VAULT_TERM_SAMPLE_FILE is the user's own file, not a bundled sample: it is
 * always imported.
 */
import { ConfigError } from "../../config/fields.ts";
import type { SAMPLES_MODES } from "../../config/core.ts";

export type SamplesMode = (typeof SAMPLES_MODES)[number];

export interface SamplesDecision {
  load: boolean;
  /** Why, for the host's summary line. */
  why: string;
}

export function bundledSamples(mode: SamplesMode, services: { databaseUrl?: string; ethRpcEndpoint?: string }): SamplesDecision {
  if (mode === "off") return { load: false, why: "STRATA_SAMPLES=off" };
  if (mode === "on") return { load: true, why: "STRATA_SAMPLES=on" };
  if (services.databaseUrl) return { load: false, why: "no bundled samples: DATABASE_URL is set (STRATA_SAMPLES=on loads them)" };
  if (services.ethRpcEndpoint) return { load: false, why: "no bundled samples: ETH_RPC_ENDPOINT is set" };
  return { load: true, why: "embedded database and dev chain" };
}

/** STRATA_SAMPLES=on with a real chain: the samples' fees would be paid on it. */
export function refuseSamplesOnRealChain(mode: SamplesMode, ethRpcEndpoint: string | undefined): void {
  if (mode === "on" && ethRpcEndpoint) {
    throw new ConfigError([
      "STRATA_SAMPLES: on is refused with ETH_RPC_ENDPOINT set: the bundled sample events would earn fees that the payments then pay on that chain; unset one of them",
    ]);
  }
}
