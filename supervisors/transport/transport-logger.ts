/**
 * The logger transports and micro services fall back to when none is injected: the redacting
 * logger (supervisors/observability/logger.ts) at `warn`, so a handler failure is still reported,
 * never through console output that bypasses secret redaction. Created on first use.
 */
import type { Logger } from "pino";
import { createLogger } from "../observability/logger.ts";

let fallback: Logger | undefined;

export function defaultTransportLogger(): Logger {
  fallback ??= createLogger({ level: "warn", bindings: { component: "transport" } });
  return fallback;
}
