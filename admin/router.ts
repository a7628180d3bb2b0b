/**
 * A small router for the admin server: `METHOD /path/:param` patterns, exact segments, params
 * URL-decoded. Later issues add routes (runs, payments) with `router.add(...)`.
 */
import type { IncomingMessage } from "node:http";

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE";

export interface AdminRequest {
  method: HttpMethod;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  /** Parsed JSON body for POST/PUT (undefined when empty). */
  body: unknown;
  raw: IncomingMessage;
}

export interface AdminResponse {
  status: number;
  /** JSON-serialised unless `text` is given. */
  json?: unknown;
  text?: string;
  contentType?: string;
}

export type RouteHandler = (req: AdminRequest) => Promise<AdminResponse> | AdminResponse;

export interface Route {
  method: HttpMethod;
  pattern: string;
  /** Mutating routes need the bearer token (or a loopback-only server without a token). */
  mutating: boolean;
  handler: RouteHandler;
}

interface Compiled extends Route {
  segments: string[];
}

export type Match = { route: Route; params: Record<string, string> } | { route: undefined; allowed: HttpMethod[] };

export class Router {
  private readonly routes: Compiled[] = [];

  add(method: HttpMethod, pattern: string, handler: RouteHandler, opts: { mutating?: boolean } = {}): this {
    if (!pattern.startsWith("/")) throw new TypeError(`route pattern must start with '/': ${pattern}`);
    const mutating = opts.mutating ?? method !== "GET";
    this.routes.push({ method, pattern, mutating, handler, segments: split(pattern) });
    return this;
  }

  list(): Route[] {
    return this.routes.map(({ method, pattern, mutating, handler }) => ({ method, pattern, mutating, handler }));
  }

  /** The route for method+path, or the methods the path allows (405) / none (404). */
  match(method: string, path: string): Match {
    const segs = split(path);
    const allowed: HttpMethod[] = [];
    for (const r of this.routes) {
      const params = matchSegments(r.segments, segs);
      if (!params) continue;
      if (r.method === method) return { route: r, params };
      allowed.push(r.method);
    }
    return { route: undefined, allowed };
  }
}

function split(path: string): string[] {
  return path.split("/").filter((s) => s !== "");
}

function matchSegments(pattern: string[], segs: string[]): Record<string, string> | undefined {
  if (pattern.length !== segs.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p.startsWith(":")) {
      try {
        params[p.slice(1)] = decodeURIComponent(segs[i]);
      } catch {
        return undefined;
      }
    } else if (p !== segs[i]) return undefined;
  }
  return params;
}
