/**
 * Payment configuration as a config section (config/section.ts): keys, defaults, parsing.
 * This module never reads the environment; the host passes `paymentsConfig` to loadConfig
 * (it replaces the predeclared section of the same name) and hands the values to
 * `paymentSettingsFrom`. `ETH_RPC_ENDPOINT` belongs to the core section (unset = local anvil).
 * Amounts are bigint wei; the machine keeps them as decimal strings.
 */
import { FieldParseError, field } from "../../../config/fields.ts";
import type { Field } from "../../../config/fields.ts";
import { defineSection } from "../../../config/section.ts";
import type { SectionValues } from "../../../config/section.ts";
import type { PaymentSettings } from "./payment-machine.ts";

/** Comma-separated backoff delays in milliseconds, e.g. `1000,2000,4000`. */
function delaysField<const O extends { description: string; default: readonly number[] }>(env: string, opts: O): Field<readonly number[]> & O {
  const expected = "comma-separated milliseconds such as 1000,2000,4000";
  return {
    env,
    expected,
    parse: (raw: string) => {
      const parts = raw.split(",").map((p) => p.trim()).filter((p) => p !== "");
      if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p) || !Number.isSafeInteger(Number(p)))) throw new FieldParseError(expected, raw);
      return Object.freeze(parts.map(Number));
    },
    ...opts,
  };
}

export const paymentsConfig = defineSection("payments", {
  ethPrivateKey: field.string("ETH_PRIVATE_KEY", { secret: true, description: "Payer private key (0x + 64 hex), or path to a JSON keystore." }),
  ethKeystorePassword: field.string("ETH_KEYSTORE_PASSWORD", { secret: true, description: "Keystore password, or path to a file holding it." }),
  chainId: field.positiveInt("CHAIN_ID", { default: 42161, description: "Chain id the node must report (Arbitrum One 42161; anvil 31337)." }),
  paymentThresholdWei: field.uint256("PAYMENT_THRESHOLD_WEI", { default: 10_000_000_000_000_000n, description: "Least unpaid earnings paid to a worker, wei (inclusive)." }),
  maxGasPriceWei: field.uint256("MAX_GAS_PRICE_WEI", { default: 5_000_000_000_000n, description: "Ceiling on maxFeePerGas; a gas price above it sends nothing, wei." }),
  gasLimit: field.uint256("GAS_LIMIT", { default: 1_000_000n, description: "Gas limit of a payment transaction." }),
  paymentSensorIntervalSeconds: field.positiveInt("PAYMENT_SENSOR_INTERVAL_SECONDS", { default: 14_400, description: "Payment schedule interval, s." }),
  rpcRetryDelaysMs: delaysField("PAYMENT_RPC_RETRY_DELAYS_MS", { default: [1000, 2000, 4000], description: "Backoff between RPC attempts, ms." }),
  receiptRetryDelaysMs: delaysField("PAYMENT_RECEIPT_RETRY_DELAYS_MS", { default: [2000, 4000, 8000], description: "Backoff between receipt polls, ms." }),
  leaseTtlSeconds: field.positiveInt("PAYMENT_LEASE_TTL_SECONDS", { default: 600, description: "Payment run lease lifetime (renewed at every step), s." }),
  auditExportIntervalSeconds: field.positiveInt("PAYMENT_AUDIT_EXPORT_INTERVAL_SECONDS", { default: 60, description: "How often the payment audit not yet in S3 is copied there (also after every run), s." }),
});

export type PaymentsConfigValues = SectionValues<typeof paymentsConfig>;

/** The machine's settings from the section's values. */
export function paymentSettingsFrom(v: PaymentsConfigValues): PaymentSettings {
  return {
    thresholdWei: v.paymentThresholdWei.toString(),
    maxGasPriceWei: v.maxGasPriceWei.toString(),
    gasLimit: v.gasLimit.toString(),
    chainId: String(v.chainId),
    rpcRetryDelaysMs: [...v.rpcRetryDelaysMs],
    receiptRetryDelaysMs: [...v.receiptRetryDelaysMs],
  };
}
