/**
 * A supervised embedded child process (s3rver, anvil): spawned with its output captured (the
 * last few KB of stderr are kept for error messages), stopped with SIGTERM and, if it has not
 * exited after `killAfterMs`, SIGKILL. An unexpected exit is logged once (error).
 * Its environment is only config/process-env.ts `childProcessEnv` (PATH, HOME, …) plus
 * `extraEnv`: none of our settings or secrets.
 * `tiedToParent`: the command runs under a small Node guard that holds a pipe to this process as
 * its stdin and stops the command when that pipe closes, so the child does not outlive a host
 * that dies without stopping it (SIGKILL, crash).
 * Children stay in our process group (so a killed host's group takes them along): Ctrl-C's
 * SIGINT (or a SIGTERM to the group) reaches them as well as us, and they exit before the host
 * stops them. An exit after this process received SIGINT/SIGTERM is expected (logged at info),
 * as is one after `stop()`.
 */
import { spawn } from "node:child_process";
import process from "node:process";
import type { ChildProcess, SpawnOptions } from "node:child_process";
import type { Logger } from "pino";
import { childProcessEnv } from "../../config/process-env.ts";

export interface EmbeddedChild {
  readonly name: string;
  readonly process: ChildProcess;
  /** The tail of stderr (and stdout), for error messages. */
  output(): string;
  /** True once the process has exited. */
  readonly exited: boolean;
  /** Resolves when it exits. */
  readonly done: Promise<number | null>;
  stop(killAfterMs?: number): Promise<void>;
}

const KEEP = 8192;

const GUARD_SCRIPT = `
const { spawn } = require("node:child_process");
const [bin, ...args] = process.argv.slice(1);
const c = spawn(bin, args, { stdio: ["ignore", "inherit", "inherit"] });
const stop = () => { if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM"); };
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.on("error", stop);
process.stdin.resume();
c.on("error", (e) => { console.error(String(e)); process.exit(127); });
c.on("exit", (code, signal) => process.exit(code ?? (signal === "SIGTERM" ? 0 : 1)));
`;

const STOP_SIGNALS = ["SIGINT", "SIGTERM"] as const;
type StopSignal = (typeof STOP_SIGNALS)[number];

/** The stop signal this process received while an embedded child ran, if any. */
let receivedStop: StopSignal | null = null;
let liveChildren = 0;
const observers = new Map<StopSignal, () => void>();

/**
 * While a child runs, note a SIGINT/SIGTERM to this process. Only a signal the process already
 * handles (`strata start`: cli/main.ts) is observed: a listener would otherwise replace the
 * default action (exit), and a second Ctrl-C still finds only the process's own handling.
 */
function observeStopSignals(): void {
  for (const sig of STOP_SIGNALS) {
    if (observers.has(sig) || process.listenerCount(sig) === 0) continue;
    const seen = () => {
      receivedStop ??= sig;
      unobserveStopSignals();
    };
    observers.set(sig, seen);
    process.once(sig, seen);
  }
}

function unobserveStopSignals(): void {
  for (const [sig, seen] of observers) process.off(sig, seen);
  observers.clear();
}

/** The Node binary for helper processes: this one on Node, `node` from PATH under Deno. */
export function nodeBinary(): string {
  return (process.versions as Record<string, string | undefined>).deno ? "node" : process.execPath;
}

export interface EmbeddedSpawnOptions extends Omit<SpawnOptions, "env"> {
  log: Logger;
  tiedToParent?: boolean;
  /** Variables the child needs beyond childProcessEnv (s3rver: NODE_OPTIONS). */
  extraEnv?: Readonly<Record<string, string>>;
}

export function spawnEmbedded(name: string, command: string, args: readonly string[], opts: EmbeddedSpawnOptions): EmbeddedChild {
  const { log, tiedToParent, extraEnv, ...rest } = opts;
  const spawnOpts: SpawnOptions = { ...rest, env: childProcessEnv(extraEnv) };
  const child = tiedToParent
    ? spawn(nodeBinary(), ["-e", GUARD_SCRIPT, command, ...args], { ...spawnOpts, stdio: ["pipe", "pipe", "pipe"] })
    : spawn(command, [...args], { stdio: ["ignore", "pipe", "pipe"], ...spawnOpts });
  liveChildren++;
  observeStopSignals();
  let counted = true;
  const gone = () => {
    if (!counted) return;
    counted = false;
    if (--liveChildren === 0) unobserveStopSignals();
  };
  let tail = "";
  const keep = (d: unknown) => {
    tail = (tail + String(d)).slice(-KEEP);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let exited = false;
  let stopping = false;
  const done = new Promise<number | null>((resolve) => {
    child.once("exit", (code, signal) => {
      exited = true;
      gone();
      if (receivedStop && !stopping) log.info({ embedded: name, code, signal }, `embedded ${name} exited after ${receivedStop} (the host is stopping)`);
      else if (!stopping) log.error({ embedded: name, code, signal, output: tail.slice(-2000) }, `embedded ${name} exited unexpectedly`);
      resolve(code);
    });
    child.once("error", (err) => {
      exited = true;
      gone();
      log.error({ embedded: name, err }, `embedded ${name} could not be started`);
      resolve(null);
    });
  });
  return {
    name,
    process: child,
    output: () => tail,
    get exited() {
      return exited;
    },
    done,
    async stop(killAfterMs = 5000) {
      stopping = true;
      if (exited) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => {
        if (!exited) child.kill("SIGKILL");
      }, killAfterMs);
      await done;
      clearTimeout(timer);
    },
  };
}
