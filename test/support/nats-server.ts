/**
 * A private nats-server for one test file: spawned from PATH on a port the server picks itself
 * (`-p -1`, reported through `--ports_file_dir`), with its own temp folder (JetStream store,
 * config file, log), probed until it answers INFO, killed and removed by `stop()`.
 * Works the same under Node and Deno. Fails at once, naming the Debian package, when the
 * binary is missing.
 */
import process from "node:process";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface NatsServerOptions {
  /** Enable JetStream with its store in the server's temp folder. */
  jetstream?: boolean;
  /** Text of a nats-server config file (e.g. `max_payload: 4096`); port flags override it. */
  config?: string;
}

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  /** Kill the server and remove its temp folder. */
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 15_000;

/** Absolute path of the nats-server binary, or an error naming the package to install. */
export function findNatsServerBinary(): string {
  const dirs = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  for (const dir of [...dirs, "/usr/sbin", "/usr/local/bin", "/usr/bin"]) {
    const candidate = join(dir, "nats-server");
    if (existsSync(candidate)) return candidate;
  }
  throw new Error("nats-server not found on PATH: install the Debian package `nats-server` (apt-get install -y nats-server)");
}

export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = findNatsServerBinary();
  const dir = mkdtempSync(join(tmpdir(), "strata-nats-"));
  const logFile = join(dir, "server.log");
  const args = ["-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", dir, "-l", logFile];
  if (opts.config !== undefined) {
    const configFile = join(dir, "server.conf");
    writeFileSync(configFile, opts.config);
    args.push("-c", configFile);
  }
  if (opts.jetstream) args.push("-js", "-sd", join(dir, "jetstream"));

  const child = spawn(binary, args, { stdio: "ignore" });
  // A test that forgets stop() must not hang: the server does not keep this process alive, and
  // the exit hook below kills it when the process ends.
  child.unref();
  let exited: string | undefined;
  child.once("exit", (code, signal) => (exited = `exited with ${signal ?? code}`));
  child.once("error", (err) => (exited = `failed to start: ${err.message}`));
  const killOnExit = (): void => {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", killOnExit);

  const cleanup = async (): Promise<void> => {
    process.removeListener("exit", killOnExit);
    await terminate(child);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const port = await waitForPort(dir, () => exited, logFile);
    await waitForInfo(port, () => exited, logFile);
    return { url: `nats://127.0.0.1:${port}`, port, stop: cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function waitForPort(dir: string, exited: () => string | undefined, logFile: string): Promise<number> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const reason = exited();
    if (reason) throw new Error(`nats-server ${reason}: ${readLog(logFile)}`);
    const portsFile = readdirSync(dir).find((f) => f.endsWith(".ports"));
    if (portsFile) {
      try {
        const ports = JSON.parse(readFileSync(join(dir, portsFile), "utf8")) as { nats?: string[] };
        const url = ports.nats?.[0];
        if (url) return Number(new URL(url).port);
      } catch {
        // file written but not complete yet: read again
      }
    }
    await sleep(20); // process start-up, not timing logic under test
  }
  throw new Error(`nats-server did not report its port within ${START_TIMEOUT_MS} ms: ${readLog(logFile)}`);
}

/** Resolves once the server sends its INFO line on a fresh connection. */
async function waitForInfo(port: number, exited: () => string | undefined, logFile: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const reason = exited();
    if (reason) throw new Error(`nats-server ${reason}: ${readLog(logFile)}`);
    if (await answersInfo(port)) return;
    await sleep(20);
  }
  throw new Error(`nats-server on port ${port} did not answer within ${START_TIMEOUT_MS} ms: ${readLog(logFile)}`);
}

function answersInfo(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: "127.0.0.1", port });
    let seen = "";
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.on("data", (chunk) => {
      seen += chunk.toString();
      if (seen.startsWith("INFO ")) done(true);
    });
    socket.on("error", () => done(false));
    socket.on("close", () => done(false));
  });
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const forced = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await gone;
  clearTimeout(forced);
}

function readLog(logFile: string): string {
  try {
    return readFileSync(logFile, "utf8").trim().split("\n").slice(-5).join(" | ");
  } catch {
    return "(no log)";
  }
}
