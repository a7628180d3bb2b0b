/**
 * Errors say whether to retry, and keep their class across the wire.
 *
 * - RetryableError: the operation may succeed later (a dependency down, a timeout). Supervisors
 *   restart the actor with backoff and the message is tried again.
 * - InputError (non-retryable): the message itself is wrong. It goes to the dead-letter store
 *   with this error and the next message is processed.
 * An unknown thrown value is treated as retryable: a bug or an outage must not drop input.
 * Wire form (NATS headers): `Strata-Error-Code` and `Strata-Error-Retryable`.
 */
export class StrataError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  constructor(message: string, opts: { code: string; retryable: boolean; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = opts.code;
    this.retryable = opts.retryable;
  }
}

export class RetryableError extends StrataError {
  constructor(message: string, opts: { code?: string; cause?: unknown } = {}) {
    super(message, { code: opts.code ?? "retryable", retryable: true, cause: opts.cause });
  }
}

/** Bad input: never retried, dead-lettered with this message. */
export class InputError extends StrataError {
  constructor(message: string, opts: { code?: string; cause?: unknown } = {}) {
    super(message, { code: opts.code ?? "bad_input", retryable: false, cause: opts.cause });
  }
}

export function isRetryable(err: unknown): boolean {
  if (err instanceof StrataError) return err.retryable;
  if (err && typeof err === "object" && "retryable" in err) return Boolean((err as { retryable: unknown }).retryable);
  return true;
}

/**
 * Bad input that will fail the same way every time (an InputError, or a database data error:
 * SQLSTATE class 22 data exception, 23 integrity violation): dead-letter it instead of retrying.
 */
export function isPoisonError(err: unknown): boolean {
  if (err instanceof InputError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^2[23][0-9A-Z]{3}$/.test(code);
}

/** Node's network error codes of a dependency that cannot be reached or dropped the connection. */
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "ECONNABORTED"]);
/** PostgreSQL SQLSTATEs of a server shutting down, starting, or out of connections (class 08 is matched whole). */
const SERVER_UNAVAILABLE_STATES = new Set(["57P01", "57P02", "57P03", "53300"]);
/**
 * AWS SDK error names of a store that is slow, overloaded or failing (not of the object asked
 * for): a request past the client's timeouts (s3-client.ts; a TimeoutError has no code), S3's
 * throttling and server errors. An HTTP 5xx answer counts the same.
 */
const SERVICE_UNAVAILABLE_NAMES = new Set(["TimeoutError", "RequestTimeout", "SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeTooSkewed"]);
/** pg's own errors for a lost or refused connection (they carry no code). */
const PG_CONNECTION_MESSAGE = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

/**
 * Whether an error says a dependency could not be reached: a refused, reset or timed-out
 * connection, a database server shutting down or not accepting connections (SQLSTATE class 08,
 * 57P01-57P03, 53300), an S3-compatible store timing out, throttling or answering 5xx. Such a failure is an outage, not the actor's fault: its supervisor keeps
 * backing off instead of counting it toward failing the actor (kind-supervisor.ts). Looks
 * through `cause` and AggregateError (a dual-stack connect) a few levels deep.
 */
export function isDependencyUnavailable(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== "object" || depth > 4) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && (NETWORK_CODES.has(code) || SERVER_UNAVAILABLE_STATES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  if (err instanceof Error && PG_CONNECTION_MESSAGE.test(err.message)) return true;
  const e = err as { name?: unknown; $metadata?: { httpStatusCode?: unknown } };
  if (typeof e.name === "string" && SERVICE_UNAVAILABLE_NAMES.has(e.name)) return true;
  if (typeof e.$metadata?.httpStatusCode === "number" && e.$metadata.httpStatusCode >= 500) return true;
  if (err instanceof AggregateError && err.errors.some((e) => isDependencyUnavailable(e, depth + 1))) return true;
  return isDependencyUnavailable((err as { cause?: unknown }).cause, depth + 1);
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

export const ERROR_HEADERS = { code: "Strata-Error-Code", retryable: "Strata-Error-Retryable", message: "Strata-Error" } as const;

export function errorToHeaders(err: unknown): Record<string, string> {
  const code = err instanceof StrataError ? err.code : "internal";
  return {
    [ERROR_HEADERS.code]: code,
    [ERROR_HEADERS.retryable]: String(isRetryable(err)),
    [ERROR_HEADERS.message]: errorMessage(err).replace(/[\r\n]+/g, " ").slice(0, 1000),
  };
}

export function errorFromHeaders(headers: Record<string, string>): StrataError | undefined {
  const message = headers[ERROR_HEADERS.message];
  if (message === undefined) return undefined;
  const code = headers[ERROR_HEADERS.code] ?? "internal";
  return headers[ERROR_HEADERS.retryable] === "false" ? new InputError(message, { code }) : new RetryableError(message, { code });
}
