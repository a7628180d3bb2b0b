/**
 * The services tests need: PostgreSQL, Redis and nats-server. For each: the URL in the
 * environment (DATABASE_URL, REDIS_URL, NATS_URL), else the usual local port when something
 * answers there with the real protocol (SELECT 1, PING, INFO), else a private instance started
 * from the binary on PATH on a free port in a temp folder (stopped after), else an error naming
 * the Debian package to install. Nothing is ever skipped.
 */
import { freePort } from "../../supervisors/embedded/free-port.ts";
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { setTimeout as sleep } from "node:timers/promises";
import { Buffer } from "node:buffer";
import pg from "pg";
import { maskUrlPassword as mask } from "../../config/fields.ts";

export type ServiceName = "postgres" | "redis" | "nats";
export const SERVICE_NAMES: readonly ServiceName[] = ["postgres", "redis", "nats"];

export const ENV_KEYS: Record<ServiceName, string> = { postgres: "DATABASE_URL", redis: "REDIS_URL", nats: "NATS_URL" };
export const DEBIAN_PACKAGES: Record<ServiceName, string> = { postgres: "postgresql", redis: "redis-server", nats: "nats-server" };
export const LOCAL_URLS: Record<ServiceName, string> = {
  postgres: "postgres://postgres@127.0.0.1:5432/postgres",
  redis: "redis://127.0.0.1:6379",
  nats: "nats://127.0.0.1:4222",
};

export interface ServiceHandle {
  name: ServiceName;
  url: string;
  /** env: the URL given; local: the usual port answered; private: started here. */
  origin: "env" | "local" | "private";
  stop(): Promise<void>;
}

export class ServiceUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ServiceUnavailableError";
  }
}

// ---------------------------------------------------------------- protocol probes

/** undefined when the service answers, else the reason. */
export async function probe(name: ServiceName, url: string, timeoutMs = 2000): Promise<string | undefined> {
  try {
    if (name === "postgres") return await probePostgres(url, timeoutMs);
    if (name === "redis") return await probeRedis(url, timeoutMs);
    return await probeNats(url, timeoutMs);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

async function probePostgres(url: string, timeoutMs: number): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on("error", () => {});
  try {
    await client.connect();
    const res = await client.query("SELECT 1 AS one");
    return res.rows[0]?.one === 1 ? undefined : "SELECT 1 did not return 1";
  } finally {
    await client.end().catch(() => {});
  }
}

/** Open a TCP connection, send `hello` (may be empty), resolve with the first line received. */
function firstLine(host: string, port: number, hello: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let buf = "";
    const timer = setTimeout(() => finish(new Error(`no answer from ${host}:${port} within ${timeoutMs} ms`)), timeoutMs);
    const finish = (err?: Error, line?: string) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(line ?? "");
    };
    socket.setEncoding("utf8");
    socket.on("connect", () => {
      if (hello) socket.write(hello);
    });
    socket.on("data", (chunk: string) => {
      buf += chunk;
      const i = buf.indexOf("\r\n");
      if (i >= 0) finish(undefined, buf.slice(0, i));
    });
    socket.on("error", (err) => finish(err));
    socket.on("close", () => finish(new Error(`connection to ${host}:${port} closed without an answer`)));
  });
}

function hostPort(url: string, defaultPort: number): { host: string; port: number; password?: string } {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1", port: Number(u.port || defaultPort), password: u.password ? decodeURIComponent(u.password) : undefined };
}

async function probeRedis(url: string, timeoutMs: number): Promise<string | undefined> {
  const { host, port, password } = hostPort(url, 6379);
  const resp = (...args: string[]) => `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("");
  const hello = (password ? resp("AUTH", password) : "") + resp("PING");
  const line = await firstLine(host, port, hello, timeoutMs);
  if (password && line === "+OK") return undefined; // AUTH accepted; PING answers next
  return line === "+PONG" ? undefined : `unexpected answer to PING: ${line}`;
}

async function probeNats(url: string, timeoutMs: number): Promise<string | undefined> {
  const { host, port } = hostPort(url, 4222);
  const line = await firstLine(host, port, "", timeoutMs);
  return line.startsWith("INFO ") ? undefined : `unexpected greeting: ${line.slice(0, 40)}`;
}

// ---------------------------------------------------------------- binaries and ports

/** Full path of an executable found on PATH or in `extraDirs`, else undefined. */
export function findBinary(name: string, searchPath: readonly string[] = defaultSearchPath()): string | undefined {
  for (const dir of searchPath) {
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** PATH, /usr/sbin (nats-server on Debian) and /usr/lib/postgresql/<newest>/bin. */
export function defaultSearchPath(): string[] {
  const dirs = (process.env.PATH ?? "").split(path.delimiter).filter((d) => d !== "");
  dirs.push("/usr/local/sbin", "/usr/sbin", "/sbin");
  try {
    const versions = fs.readdirSync("/usr/lib/postgresql").filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    // Debian's wrappers in /usr/bin (pg_ctl → pg_ctlcluster) are not the real tools: prefer the versioned dir.
    for (const v of versions) dirs.unshift(`/usr/lib/postgresql/${v}/bin`);
  } catch {
    // no Debian postgres layout
  }
  return dirs;
}

export { freePort };

async function waitUntilAnswers(name: ServiceName, url: string, child: ChildProcess | undefined, logFile: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let reason: string | undefined = "not tried";
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) break;
    reason = await probe(name, url, 1000);
    if (reason === undefined) return;
    await sleep(100);
  }
  let tail = "";
  try {
    tail = fs.readFileSync(logFile, "utf8").split("\n").slice(-8).join("\n");
  } catch {
    // no log
  }
  throw new ServiceUnavailableError(`private ${name} did not answer on ${mask(url)}: ${reason}\n${tail}`);
}

function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

function stopChild(child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// ---------------------------------------------------------------- private instances

export async function startPrivateRedis(searchPath?: readonly string[]): Promise<ServiceHandle> {
  const bin = findBinary("redis-server", searchPath);
  if (!bin) throw missing("redis", "redis-server");
  const dir = makeTempDir("strata-redis-");
  const port = await freePort();
  const logFile = path.join(dir, "redis.log");
  const child = spawn(bin, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--logfile", logFile], { stdio: "ignore" });
  const url = `redis://127.0.0.1:${port}`;
  const stop = async () => {
    await stopChild(child);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilAnswers("redis", url, child, logFile);
  } catch (err) {
    await stop();
    throw err;
  }
  return { name: "redis", url, origin: "private", stop };
}

export async function startPrivateNats(searchPath?: readonly string[]): Promise<ServiceHandle> {
  const bin = findBinary("nats-server", searchPath);
  if (!bin) throw missing("nats", "nats-server");
  const dir = makeTempDir("strata-nats-");
  const port = await freePort();
  const logFile = path.join(dir, "nats.log");
  const child = spawn(bin, ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", path.join(dir, "js"), "-l", logFile], { stdio: "ignore" });
  const url = `nats://127.0.0.1:${port}`;
  const stop = async () => {
    await stopChild(child);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilAnswers("nats", url, child, logFile);
  } catch (err) {
    await stop();
    throw err;
  }
  return { name: "nats", url, origin: "private", stop };
}

/**
 * initdb + pg_ctl in a temp folder, trust auth, on 127.0.0.1:<free port>. As root (CI) both run
 * as the `postgres` user through runuser, in a folder owned by postgres (they refuse root).
 */
export async function startPrivatePostgres(searchPath?: readonly string[]): Promise<ServiceHandle> {
  const initdb = findBinary("initdb", searchPath);
  const pgCtl = initdb ? path.join(path.dirname(initdb), "pg_ctl") : undefined;
  if (!initdb || !pgCtl || !fs.existsSync(pgCtl)) throw missing("postgres", "initdb");
  const dir = makeTempDir("strata-pg-");
  const asUser: string[] = [];
  if (isRoot()) {
    const ids = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
    const gids = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
    if (ids.status !== 0) throw new ServiceUnavailableError("running as root, but there is no `postgres` user to run initdb as (apt-get install -y postgresql creates it)");
    fs.chownSync(dir, Number(ids.stdout.trim()), Number(gids.stdout.trim()));
    asUser.push("runuser", "-u", "postgres", "--");
  }
  const run = (args: string[]) => {
    const cmd = [...asUser, ...args];
    const res = spawnSync(cmd[0], cmd.slice(1), { encoding: "utf8", cwd: dir });
    if (res.status !== 0) throw new ServiceUnavailableError(`${path.basename(args[0])} failed (${res.status}): ${(res.stderr || res.stdout || String(res.error)).trim().split("\n").slice(-5).join(" | ")}`);
  };
  const dataDir = path.join(dir, "pg");
  const logFile = path.join(dir, "postgres.log");
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let started = false;
  const stop = async () => {
    if (started) {
      try {
        run([pgCtl, "-D", dataDir, "-m", "fast", "-w", "stop"]);
      } catch {
        // already gone
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    run([initdb, "-D", dataDir, "--auth=trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]);
    const serverOpts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
    run([pgCtl, "-D", dataDir, "-o", serverOpts, "-l", logFile, "-w", "-t", "60", "start"]);
    started = true;
    await waitUntilAnswers("postgres", url, undefined, logFile);
  } catch (err) {
    await stop();
    throw err;
  }
  return { name: "postgres", url, origin: "private", stop };
}

function missing(name: ServiceName, binary: string): ServiceUnavailableError {
  const where = new URL(LOCAL_URLS[name]);
  return new ServiceUnavailableError(
    `${name}: ${ENV_KEYS[name]} is not set, nothing answers on ${where.hostname}:${where.port}, and ${binary} is not installed. ` +
      `Install it: apt-get install -y ${DEBIAN_PACKAGES[name]} (or run \`docker compose up -d\`).`,
  );
}

const STARTERS: Record<ServiceName, (searchPath?: readonly string[]) => Promise<ServiceHandle>> = {
  postgres: startPrivatePostgres,
  redis: startPrivateRedis,
  nats: startPrivateNats,
};

export interface ResolveOptions {
  /** Where to look for server binaries (default PATH + Debian folders). */
  searchPath?: readonly string[];
  /** Override the usual local URLs (tests). */
  localUrls?: Partial<Record<ServiceName, string>>;
  /** Skip the usual local ports: start private instances unless a URL is in the environment. */
  privateOnly?: boolean;
  /** Told which way each service was found. */
  onResolved?: (handle: ServiceHandle) => void;
}

/** One service: env URL → usual local port → private instance → error naming the package. */
export async function resolveService(name: ServiceName, env: Readonly<Record<string, string | undefined>>, opts: ResolveOptions = {}): Promise<ServiceHandle> {
  const noop = async () => {};
  const given = env[ENV_KEYS[name]];
  if (given && given.trim() !== "") {
    const reason = await probe(name, given);
    if (reason !== undefined) throw new ServiceUnavailableError(`${ENV_KEYS[name]}=${mask(given)} does not answer: ${reason}`);
    return { name, url: given, origin: "env", stop: noop };
  }
  const local = opts.localUrls?.[name] ?? LOCAL_URLS[name];
  if (!opts.privateOnly && (await probe(name, local, 1500)) === undefined) return { name, url: local, origin: "local", stop: noop };
  return STARTERS[name](opts.searchPath);
}

/** All three, in parallel; when one fails the ones already started are stopped. */
export async function resolveServices(env: Readonly<Record<string, string | undefined>>, opts: ResolveOptions = {}): Promise<Record<ServiceName, ServiceHandle>> {
  const results = await Promise.allSettled(SERVICE_NAMES.map((n) => resolveService(n, env, opts)));
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  const handles = results.filter((r): r is PromiseFulfilledResult<ServiceHandle> => r.status === "fulfilled").map((r) => r.value);
  if (failures.length > 0) {
    await Promise.all(handles.map((h) => h.stop().catch(() => {})));
    throw new ServiceUnavailableError(failures.map((f) => (f.reason instanceof Error ? f.reason.message : String(f.reason))).join("\n"));
  }
  for (const h of handles) opts.onResolved?.(h);
  return Object.fromEntries(handles.map((h) => [h.name, h])) as Record<ServiceName, ServiceHandle>;
}

// ---------------------------------------------------------------- child runtimes

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");

/** The command that runs a TypeScript file on Node (through tsx) or Deno, from either runtime. */
/** The young-generation size every Strata Node process runs with. */
export const NODE_HEAP_FLAG = "--max-semi-space-size=64";

export function runtimeCommand(runtime: "node" | "deno", file: string): [string, ...string[]] {
  const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
  if (runtime === "deno") {
    const local = path.join(repoRoot, "node_modules/deno/deno");
    return [deno ? deno.execPath() : fs.existsSync(local) ? local : "deno", "run", "-A", file];
  }
  // Under Deno process.execPath is deno: Node children need `node`.
  // The heap settings of `npm start` and the image (docs/operations.md, "Node heap").
  return [deno ? "node" : process.execPath, NODE_HEAP_FLAG, "--import", "tsx", file];
}

/** The runtime this process runs on. */
export function currentRuntime(): "node" | "deno" {
  return typeof (globalThis as { Deno?: unknown }).Deno === "undefined" ? "node" : "deno";
}
