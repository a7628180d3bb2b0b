/**
 * `strata <args>` as a child process, as a user runs it (Node: `node --import tsx cli/main.ts`;
 * Deno: `deno run -A cli/main.ts`), with exactly the given variables plus PATH and HOME (no
 * service URL of the test runner leaks in). Resolves when it has exited.
 */
import { spawn } from "node:child_process";
import os from "node:os";
import process from "node:process";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;

export interface StrataRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runStrata(args: string[], env: Record<string, string>): Promise<StrataRun> {
  const cmd = deno ? [deno.execPath(), "run", "-A", "cli/main.ts", ...args] : [process.execPath, "--import", "tsx", "cli/main.ts", ...args];
  const child = spawn(cmd[0], cmd.slice(1), { cwd: repoRoot, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? os.tmpdir(), ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += String(d)));
  child.stderr!.on("data", (d) => (stderr += String(d)));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}
