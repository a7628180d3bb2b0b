/**
 * A supervised embedded child process (s3rver, anvil): spawned with its output captured (the
 * last few KB of stderr are kept for error messages), stopped with SIGTERM and, if it has not
 * exited after `killAfterMs`, SIGKILL. An unexpected exit is logged once.
 * `tiedToParent`: the command runs under a small Node guard that holds a pipe to this process as
 * its stdin and stops the command when that pipe closes, so the child does not outlive a host
 * that dies without stopping it (SIGKILL, crash).
 */
import { spawn } from "node:child_process";
import process from "node:process";
import type { ChildProcess, SpawnOptions } from "node:child_process";
import type { Logger } from "pino";

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

/** The Node binary for helper processes: this one on Node, `node` from PATH under Deno. */
export function nodeBinary(): string {
  return (process.versions as Record<string, string | undefined>).deno ? "node" : process.execPath;
}

export function spawnEmbedded(name: string, command: string, args: readonly string[], opts: SpawnOptions & { log: Logger; tiedToParent?: boolean }): EmbeddedChild {
  const { log, tiedToParent, ...spawnOpts } = opts;
  const child = tiedToParent
    ? spawn(nodeBinary(), ["-e", GUARD_SCRIPT, command, ...args], { ...spawnOpts, stdio: ["pipe", "pipe", "pipe"] })
    : spawn(command, [...args], { stdio: ["ignore", "pipe", "pipe"], ...spawnOpts });
  let tail = "";
  const keep = (d: unknown) => {
    tail = (tail + String(d)).slice(-KEEP);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let exited = false;
  let stopping = false;
  const done = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      exited = true;
      if (!stopping) log.error({ embedded: name, code, output: tail.slice(-2000) }, `embedded ${name} exited unexpectedly`);
      resolve(code);
    });
    child.once("error", (err) => {
      exited = true;
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
