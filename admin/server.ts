/**
 * The admin HTTP server (node:http, so it runs on Node and Deno):
 *   GET  /health                     each dependency; 503 when one is down
 *   GET  /ready                      each ingress and kind advancing; 503 when one is not
 *   GET  /metrics                    Prometheus text
 *   GET  /actors                     per kind: active, mailbox depth, restarts, failed, last error
 *   GET  /actors/:kind/:id           one actor's state
 *   POST /actors/:kind/:id/restart   mutating
 *   POST /actors/:kind/:id/stop      mutating
 * Mutating routes need `Authorization: Bearer <ADMIN_TOKEN>`; with no token the server refuses
 * to bind anything but loopback (AdminBindError) and refuses what a web page in a local browser
 * could send (request-guard.ts: a foreign Host, an Origin, a body that is not application/json).
 * Every answer goes through `opts.scrub` (the config's secret values). More routes: `opts.routes`
 * or `server.router.add`.
 */
import http from "node:http";
import { Buffer } from "node:buffer";
import type { AddressInfo } from "node:net";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { AdminBindError, bearerAuthorized, isLoopbackHost } from "./auth.ts";
import { refuseByHost, refuseMutating } from "./request-guard.ts";
import { errorMessage } from "../protocols/errors.ts";
import type { AdminGuardPolicy, GuardedRequest, Refusal } from "./request-guard.ts";
import { Router } from "./router.ts";
import type { AdminRequest, AdminResponse, HttpMethod, Route } from "./router.ts";
import type { ActorActionResult, AdminSource } from "./source.ts";

export interface AdminServerOptions {
  host: string;
  /** 0 = any free port (see `server.port`). */
  port: number;
  token?: string;
  source: AdminSource;
  log: Logger;
  /** Extra routes (later issues: runs, payments). */
  routes?: readonly Route[];
  /** Largest accepted request body, bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** Applied to every response body before it is sent (the host's: config secret values → masked). */
  scrub?: (text: string) => string;
}

export interface AdminServer {
  readonly host: string;
  readonly port: number;
  /** `http://host:port` */
  readonly url: string;
  readonly router: Router;
  close(): Promise<void>;
}

const METHODS = new Set<string>(["GET", "POST", "PUT", "DELETE"]);

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** JSON with bigints as decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
}

export function defaultRoutes(source: AdminSource): Router {
  const router = new Router();
  router.add("GET", "/health", async () => {
    const dependencies = await source.health();
    const ok = dependencies.every((d) => d.ok);
    return { status: ok ? 200 : 503, json: { status: ok ? "ok" : "down", dependencies } };
  });
  router.add("GET", "/ready", async () => {
    const checks = await source.ready();
    const ready = checks.every((c) => c.ready);
    return { status: ready ? 200 : 503, json: { ready, checks } };
  });
  router.add("GET", "/metrics", async () => ({
    status: 200,
    text: await source.metrics(),
    contentType: source.metricsContentType ?? "text/plain; version=0.0.4; charset=utf-8",
  }));
  router.add("GET", "/actors", async () => ({ status: 200, json: { kinds: await source.actors() } }));
  router.add("GET", "/actors/:kind/:id", async (req) => {
    const actor = await source.actor(req.params.kind, req.params.id);
    if (!actor) return { status: 404, json: { error: `no actor ${req.params.kind}/${req.params.id}` } };
    if ("notFound" in actor) return { status: 404, json: { error: `no actor ${req.params.kind}/${req.params.id}: ${actor.reason}` } };
    return { status: 200, json: actor };
  });
  const action = (name: string, run: (kind: string, id: string) => Promise<ActorActionResult> | ActorActionResult) => async (req: AdminRequest): Promise<AdminResponse> => {
    const { kind, id } = req.params;
    const result = await run(kind, id);
    if (result.ok) return { status: 200, json: { ok: true, action: name, kind, id, detail: result.detail } };
    if (result.notFound) return { status: 404, json: { error: `no actor ${kind}/${id}` } };
    return { status: 409, json: { error: result.reason } };
  };
  router.add("POST", "/actors/:kind/:id/restart", action("restart", (k, i) => source.restartActor(k, i)));
  router.add("POST", "/actors/:kind/:id/stop", action("stop", (k, i) => source.stopActor(k, i)));
  router.add("GET", "/", () => ({
    status: 200,
    json: { routes: router.list().map((r) => `${r.method} ${r.pattern}${r.mutating ? " (token)" : ""}`) },
  }));
  return router;
}

async function readBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Uint8Array).length;
    if (size > limit) throw new HttpError(413, `request body over ${limit} bytes`);
    chunks.push(chunk as Uint8Array);
  }
  if (size === 0) return undefined;
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "request body is not valid JSON");
  }
}

function send(res: ServerResponse, out: AdminResponse, extraHeaders: Readonly<Record<string, string>> = {}, scrub: (text: string) => string = (t) => t): void {
  const body = scrub(out.text ?? toJson(out.json ?? null) + "\n");
  res.writeHead(out.status, {
    "content-type": out.contentType ?? (out.text !== undefined ? "text/plain; charset=utf-8" : "application/json; charset=utf-8"),
    "cache-control": "no-store",
    ...extraHeaders,
  });
  res.end(body);
}

export async function startAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  const token = opts.token && opts.token.trim() !== "" ? opts.token : undefined;
  if (!token && !isLoopbackHost(opts.host)) throw new AdminBindError(opts.host);
  const router = defaultRoutes(opts.source);
  for (const r of opts.routes ?? []) router.add(r.method, r.pattern, r.handler, { mutating: r.mutating });
  const limit = opts.maxBodyBytes ?? 1024 * 1024;
  const log = opts.log;
  const scrub = opts.scrub ?? ((text: string) => text);
  // The real port is known once listening; requests arrive only after that.
  let policy: AdminGuardPolicy = { tokenConfigured: token !== undefined, loopbackBound: isLoopbackHost(opts.host), port: opts.port };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", "http://admin");
    const reply = (out: AdminResponse, headers?: Readonly<Record<string, string>>) => send(res, out, headers, scrub);
    const refuse = (refusal: Refusal) => {
      log.warn({ method, path: url.pathname, remote: req.socket.remoteAddress, status: refusal.status, reason: refusal.error }, "admin: request refused");
      reply({ status: refusal.status, json: { error: refusal.error } }, refusal.headers);
    };
    try {
      const facts: GuardedRequest = {
        host: req.headers.host,
        origin: req.headers.origin,
        contentType: req.headers["content-type"],
        tokenGiven: token !== undefined && bearerAuthorized(req.headers.authorization, token),
      };
      const byHost = refuseByHost(policy, facts);
      if (byHost) return refuse(byHost);
      const match = router.match(method, url.pathname);
      if (!match.route) {
        if (match.allowed.length > 0) return reply({ status: 405, json: { error: `${method} not allowed on ${url.pathname}` } }, { allow: match.allowed.join(", ") });
        return reply({ status: 404, json: { error: `no route ${method} ${url.pathname}` } });
      }
      if (match.route.mutating) {
        const refusal = refuseMutating(policy, facts);
        if (refusal) return refuse(refusal);
      }
      const body = method === "POST" || method === "PUT" ? await readBody(req, limit) : undefined;
      const out = await match.route.handler({
        method: method as HttpMethod,
        path: url.pathname,
        params: match.params,
        query: url.searchParams,
        body,
        raw: req,
      });
      if (match.route.mutating) log.info({ method, path: url.pathname, status: out.status }, "admin: mutating request");
      reply(out);
    } catch (err) {
      if (err instanceof HttpError) return reply({ status: err.status, json: { error: err.message } });
      log.error({ err, method, path: url.pathname }, "admin: route failed");
      reply({ status: 500, json: { error: errorMessage(err) } });
    }
  };

  const server = http.createServer((req, res) => {
    // OPTIONS among them: a CORS preflight is never approved (no Access-Control-Allow-* header).
    if (!METHODS.has((req.method ?? "").toUpperCase())) {
      send(res, { status: 405, json: { error: `method ${req.method} not supported` } });
      return;
    }
    handle(req, res).catch((err) => {
      log.error({ err }, "admin: response failed");
      if (!res.headersSent) send(res, { status: 500, json: { error: "internal error" } });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once("error", onError);
    server.listen(opts.port, opts.host, () => {
      server.off("error", onError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const port = address.port;
  policy = { ...policy, port };
  const hostForUrl = address.family === "IPv6" || opts.host.includes(":") ? `[${opts.host.replace(/^\[|\]$/g, "")}]` : opts.host;
  log.info({ host: opts.host, port, mutating: token ? "bearer token" : "loopback only, JSON without Origin" }, "admin endpoint listening");

  return {
    host: opts.host,
    port,
    url: `http://${hostForUrl}:${port}`,
    router,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}
