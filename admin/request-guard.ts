/**
 * Which admin requests are refused before any route runs, and why (pure: headers in, verdict out).
 * The threat: a web page open in a browser on the admin's machine. It can send "simple" requests
 * (a `text/plain` or form POST, no CORS preflight) to `http://127.0.0.1:8080`, and with DNS
 * rebinding (its own host name re-pointed at 127.0.0.1) it can read the answers of GET routes.
 *
 *   Host        a server bound to loopback answers only requests whose `Host` names a loopback
 *               address or `localhost` with the server's port (a rebinding page sends its own
 *               name); a request with the configured bearer token is exempt. A server bound
 *               beyond loopback (possible only with ADMIN_TOKEN) is reached under names it cannot
 *               know, so Host is not checked there: its read routes are open to the network by
 *               the operator's choice and its mutating routes need the token.
 *   mutating    with ADMIN_TOKEN: the bearer token (401 otherwise). Without one (loopback only):
 *               no `Origin` header (browsers send it on cross-origin POSTs; curl and scripts do
 *               not) and `content-type: application/json` (a browser can send that only after a
 *               CORS preflight, which this server never approves: OPTIONS is not served).
 */
import { isLoopbackHost } from "./auth.ts";

export interface AdminGuardPolicy {
  /** ADMIN_TOKEN is set. */
  readonly tokenConfigured: boolean;
  /** The server listens on a loopback address (always so without a token). */
  readonly loopbackBound: boolean;
  /** The port the server listens on (the real one when 0 was asked). */
  readonly port: number;
}

/** The request facts the guard looks at (header values as received, undefined when absent). */
export interface GuardedRequest {
  readonly host: string | undefined;
  readonly origin: string | undefined;
  readonly contentType: string | undefined;
  /** The configured bearer token was given (already compared in constant time). */
  readonly tokenGiven: boolean;
}

export interface Refusal {
  readonly status: 400 | 401 | 403 | 415;
  readonly error: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** `Host` split into name and port; undefined when it is not `name[:port]` / `[v6][:port]`. */
export function parseHostHeader(value: string): { name: string; port: number | undefined } | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[^\s:[\]]+)(?::(\d{1,5}))?$/i.exec(value.trim());
  if (!m) return undefined;
  const port = m[2] === undefined ? undefined : Number(m[2]);
  if (port !== undefined && port > 65535) return undefined;
  return { name: m[1], port };
}

/** True when `Host` names this server on loopback: a loopback name/address and the server's port (none = 80). */
export function isLoopbackHostHeader(value: string, port: number): boolean {
  const parsed = parseHostHeader(value);
  if (!parsed) return false;
  return isLoopbackHost(parsed.name) && (parsed.port ?? 80) === port;
}

/** True for `application/json`, with or without parameters (`; charset=utf-8`), any case. */
export function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  return value.split(";")[0].trim().toLowerCase() === "application/json";
}

/** Checked on every request, before routing. */
export function refuseByHost(policy: AdminGuardPolicy, req: GuardedRequest): Refusal | undefined {
  if (!policy.loopbackBound || (policy.tokenConfigured && req.tokenGiven)) return undefined;
  if (req.host === undefined || req.host.trim() === "") return { status: 400, error: "missing Host header" };
  if (isLoopbackHostHeader(req.host, policy.port)) return undefined;
  return {
    status: 403,
    error: `Host ${JSON.stringify(req.host)} is not this loopback admin endpoint (expected 127.0.0.1:${policy.port}, localhost:${policy.port} or [::1]:${policy.port}); refused as a possible DNS-rebinding request`,
  };
}

/** Checked on a mutating route, after refuseByHost. */
export function refuseMutating(policy: AdminGuardPolicy, req: GuardedRequest): Refusal | undefined {
  if (policy.tokenConfigured) {
    if (req.tokenGiven) return undefined;
    return { status: 401, error: "missing or wrong bearer token", headers: { "www-authenticate": 'Bearer realm="strata-admin"' } };
  }
  if (req.origin !== undefined) {
    return {
      status: 403,
      error: `cross-origin request refused: a mutating request without ADMIN_TOKEN must not carry an Origin header (got ${JSON.stringify(req.origin)}); send it from a script or curl, not a web page`,
    };
  }
  if (!isJsonContentType(req.contentType)) {
    return {
      status: 415,
      error: `a mutating request without ADMIN_TOKEN needs content-type: application/json (got ${req.contentType === undefined ? "none" : JSON.stringify(req.contentType)})`,
    };
  }
  return undefined;
}
