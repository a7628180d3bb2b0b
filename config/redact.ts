/**
 * How secrets are shown to people (config output, log lines, admin answers). Pure text functions:
 *   maskServiceUrl     a service URL as printed anywhere: scheme, host and port kept, everything
 *                      that may carry a credential masked (`https://rpc.example/***`,
 *                      `nats://***@127.0.0.1:4222`). Hosted RPC URLs carry the API key in the path
 *                      (`/v2/<KEY>`) or the query (`?apikey=`), NATS a token as bare userinfo.
 *   maskUrlPassword    secrets inside free text (an error message, a log line) where URLs cannot be
 *                      told apart from the words around them: userinfo and password-like parameters.
 *   literalScrubber    replaces known secret values (from the config) wherever they appear.
 */

/** What stands for a masked part of a service URL. */
export const MASK = "***";

/**
 * A service URL for people: `scheme://host:port` kept; userinfo (`user:pass@` or a bare token
 * `token@`) → `***@`; a path beyond `/` → `/***`; a query → `?***`; a fragment → `#***`.
 *   https://eth-mainnet.g.alchemy.com/v2/KEY   → https://eth-mainnet.g.alchemy.com/***
 *   nats://TOKEN@127.0.0.1:4222                → nats://***@127.0.0.1:4222
 *   postgres://app:pw@db:5432/strata?ssl=true  → postgres://***@db:5432/strata?***
 * The path of a database URL (postgres, redis) is kept: it names the database (which one a
 * command acted on is worth printing) and never authenticates.
 * Text that is not a URL is masked by the same rule read loosely (everything from the first
 * `/`, `?`, `#` after the host masked), so a mistyped value never prints its secret either.
 */
const PATH_NAMES_THE_DATABASE = new Set(["postgres:", "postgresql:", "redis:", "rediss:"]);

export function maskServiceUrl(url: string): string {
  const text = url.trim();
  let u: URL | undefined;
  try {
    u = new URL(text);
  } catch {
    u = undefined;
  }
  if (u && u.host !== "") {
    const userinfo = u.username !== "" || u.password !== "" ? `${MASK}@` : "";
    const path = u.pathname === "" || u.pathname === "/" ? "" : PATH_NAMES_THE_DATABASE.has(u.protocol) ? u.pathname : `/${MASK}`;
    return `${u.protocol}//${userinfo}${u.host}${path}${u.search !== "" ? `?${MASK}` : ""}${u.hash !== "" ? `#${MASK}` : ""}`;
  }
  return maskLooseUrl(text);
}

/** The same rule on text `new URL` refuses or that has no host (`rpc.example/v2/KEY`, `nats:TOKEN`). */
function maskLooseUrl(text: string): string {
  const m = /^([a-z][a-z0-9+.-]*:(?:\/\/)?)?([^/?#]*@)?([^/?#@]*)([/?#][^]*)?$/i.exec(text);
  if (!m) return MASK;
  const [, scheme = "", userinfo, host, rest] = m;
  // `scheme:opaque` with no `//` (e.g. `nats:TOKEN`): the whole opaque part may be a secret.
  if (scheme !== "" && !scheme.endsWith("//")) return host === "" && !rest ? scheme : `${scheme}${MASK}`;
  const tail = !rest || rest === "/" ? "" : rest[0] === "/" ? `/${MASK}` : `${rest[0]}${MASK}`;
  return `${scheme}${userinfo ? `${MASK}@` : ""}${host}${tail}`;
}

/** What a secret is shown as, wherever it would have appeared. */
export const REDACTED = "[Redacted]";

/**
 * Masks secrets inside any string: `scheme://user:secret@host` → `scheme://user:[Redacted]@host`,
 * a bare token as userinfo `scheme://token@host` → `scheme://[Redacted]@host` (an already masked
 * `***@` is left as it is), and the value of
 * `password=`, `passwd=`, `pwd=` and `…token=` query parameters (any case, after `?`, `&`, `;`, a
 * space or at the start, as in libpq `key=value` strings) → `password=[Redacted]`.
 */
export function maskUrlPassword(text: string): string {
  return text
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):([^\s@/]+)@/gi, `$1:${REDACTED}@`)
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/)(?!\*\*\*@)([^\s:/@[\]]+)@/gi, `$1${REDACTED}@`)
    .replace(/(^|[?&;\s])((?:password|passwd|pwd|[a-z0-9_.-]*token)=)[^&;#\s)"']*/gi, `$1$2${REDACTED}`);
}

/** A known secret value and what to print instead. */
export interface SecretLiteral {
  readonly value: string;
  readonly shownAs: string;
}

/**
 * Shorter values are not scrubbed: they would also match ordinary words in every line, and a
 * secret that short protects nothing anyway. Key-name redaction still applies to them.
 */
export const MIN_SCRUBBED_LENGTH = 4;

/**
 * A function that replaces every occurrence of the given values, as written and as they appear
 * inside a JSON string (`"` and `\` escaped), by what they are shown as. Longer values first, so
 * a secret that contains another is replaced whole. Cost per call: one `includes` per value when
 * nothing matches (the usual case).
 */
export function literalScrubber(literals: Iterable<SecretLiteral>): (text: string) => string {
  const pairs = new Map<string, string>();
  for (const { value, shownAs } of literals) {
    if (value.length < MIN_SCRUBBED_LENGTH) continue;
    pairs.set(value, shownAs);
    const inJson = JSON.stringify(value).slice(1, -1);
    if (inJson !== value) pairs.set(inJson, JSON.stringify(shownAs).slice(1, -1));
  }
  const ordered = [...pairs].sort((a, b) => b[0].length - a[0].length);
  if (ordered.length === 0) return (text) => text;
  return (text) => {
    let out = text;
    for (const [value, shownAs] of ordered) if (out.includes(value)) out = out.split(value).join(shownAs);
    return out;
  };
}
