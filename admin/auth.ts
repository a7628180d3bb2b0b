/**
 * Admin authorisation: `Authorization: Bearer <ADMIN_TOKEN>` compared in constant time (both
 * sides hashed to 32 bytes first, so neither content nor length leaks through timing), and the
 * loopback rule: with no token configured the server may only bind a loopback address.
 */
import { createHash, timingSafeEqual } from "node:crypto";

export class AdminBindError extends Error {
  constructor(host: string) {
    super(`ADMIN_HOST=${host} is not a loopback address: set ADMIN_TOKEN to serve the admin endpoint beyond this machine, or bind 127.0.0.1`);
    this.name = "AdminBindError";
  }
}

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** True when the Authorization header carries the expected bearer token. */
export function bearerAuthorized(header: string | undefined, expected: string): boolean {
  if (header === undefined) return false;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  // Compare even on a malformed header so the timing of a rejection does not depend on the input.
  return tokenMatches(m ? m[1] : "", expected) && m !== null;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, "");
  if (h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)) return true;
  if (/^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)) return true;
  return false;
}
