/**
 * The test runner (`npm test`, `npm test -- <substring>…`, `--runtime=deno`, `--jobs=N`,
 * `--timeout=<seconds>` per file, `--root=<dir>`, `--private-services` to ignore URLs and local
 * ports and start private instances, as a fresh CI machine does).
 *
 * 1. Finds PostgreSQL, Redis and nats-server (test/support/services.ts: env URL → usual local
 *    port → private instance → fail naming the Debian package). It never skips.
 * 2. Runs every `test/**\/*.test.ts` (not test/bench/) as its own child process — Node:
 *    `node --import tsx <file>`, Deno: `deno run -A <file>` — with DATABASE_URL, REDIS_URL and
 *    NATS_URL in its environment, 2 at a time, printing each file's output when it ends.
 * 3. Ends with the line `N passed, N failed` (uvu's Total/Passed lines summed; a file that exits
 *    non-zero without a failed test, or runs no test at all, counts one failure) and exits
 *    non-zero on any failure.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { maskUrlPassword } from "../config/fields.ts";
import { resolveServices, runtimeCommand } from "./support/services.ts";
import type { ServiceHandle } from "./support/services.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

interface Args {
  runtime: "node" | "deno";
  jobs: number;
  timeoutSec: number;
  root: string;
  filters: string[];
  privateServices: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { runtime: "node", jobs: 2, timeoutSec: 600, root: path.join(repoRoot, "test"), filters: [], privateServices: false };
  for (const a of argv) {
    let m: RegExpExecArray | null;
    if ((m = /^--runtime=(node|deno)$/.exec(a))) args.runtime = m[1] as Args["runtime"];
    else if ((m = /^--jobs=(\d+)$/.exec(a)) && Number(m[1]) > 0) args.jobs = Number(m[1]);
    else if ((m = /^--timeout=(\d+)$/.exec(a)) && Number(m[1]) > 0) args.timeoutSec = Number(m[1]);
    else if ((m = /^--root=(.+)$/.exec(a))) args.root = path.resolve(m[1]);
    else if (a === "--private-services") args.privateServices = true;
    else if (a.startsWith("--")) {
      console.error(`test/run.ts: unknown option ${a} (expected --runtime=node|deno, --jobs=N, --timeout=SECONDS, --root=DIR, --private-services, or name filters)`);
      process.exit(2);
    } else args.filters.push(a);
  }
  return args;
}

/** Every *.test.ts under root, except test/bench, sorted. */
function findTestFiles(root: string, filters: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name === "node_modules" || entry.name.startsWith(".") || (dir === root && entry.name === "bench")) continue;
        walk(full);
      } else if (entry.name.endsWith(".test.ts")) out.push(full);
    }
  };
  walk(root);
  const rel = out.map((f) => path.relative(repoRoot, f)).sort();
  return filters.length === 0 ? rel : rel.filter((f) => filters.some((s) => f.includes(s)));
}

interface FileResult {
  file: string;
  passed: number;
  failed: number;
  code: number | null;
  output: string;
  ms: number;
  timedOut: boolean;
}

const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

/** Sum uvu's `Total:` and `Passed:` lines of one file's output. */
function countResults(output: string): { total: number; passed: number } {
  let total = 0;
  let passed = 0;
  for (const line of output.replace(ANSI, "").split("\n")) {
    let m: RegExpExecArray | null;
    if ((m = /^\s*Total:\s+(\d+)\s*$/.exec(line))) total += Number(m[1]);
    else if ((m = /^\s*Passed:\s+(\d+)\s*$/.exec(line))) passed += Number(m[1]);
  }
  return { total, passed };
}

function runFile(file: string, args: Args, env: Record<string, string | undefined>): Promise<FileResult> {
  const started = Date.now();
  const [cmd, ...cmdArgs] = runtimeCommand(args.runtime, file);
  return new Promise((resolve) => {
    const child = spawn(cmd, cmdArgs, { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let timedOut = false;
    child.stdout!.setEncoding("utf8");
    child.stderr!.setEncoding("utf8");
    child.stdout!.on("data", (d: string) => (output += d));
    child.stderr!.on("data", (d: string) => (output += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, args.timeoutSec * 1000);
    const done = (code: number | null) => {
      clearTimeout(timer);
      const { total, passed } = countResults(output);
      let failed = total - passed;
      if ((code !== 0 || timedOut) && failed === 0) failed = 1;
      if (code === 0 && !timedOut && total === 0) failed = 1; // a test file that ran no test is a failure
      resolve({ file, passed, failed, code, output, ms: Date.now() - started, timedOut });
    };
    child.on("error", (err) => {
      output += `\n${cmd}: ${err.message}\n`;
      done(127);
    });
    child.on("close", (code) => done(code));
  });
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const files = findTestFiles(args.root, args.filters);
  if (files.length === 0) {
    console.error(`test/run.ts: no test files match ${args.filters.map((f) => JSON.stringify(f)).join(" ") || "(none found)"}`);
    console.log("0 passed, 1 failed");
    return 1;
  }

  let services: Record<string, ServiceHandle>;
  try {
    services = await resolveServices(args.privateServices ? { ...process.env, DATABASE_URL: undefined, REDIS_URL: undefined, NATS_URL: undefined } : process.env, {
      privateOnly: args.privateServices,
      onResolved: (h) => console.log(`service ${h.name}: ${h.origin} ${maskUrlPassword(h.url)}`),
    });
  } catch (err) {
    console.error(`test/run.ts: ${(err as Error).message}`);
    console.log("0 passed, 1 failed");
    return 1;
  }
  const stopAll = () => Promise.all(Object.values(services).map((s) => s.stop().catch(() => {})));
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`test/run.ts: ${signal}, stopping services`);
    stopAll().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const env: Record<string, string | undefined> = {
    ...process.env,
    DATABASE_URL: services.postgres.url,
    REDIS_URL: services.redis.url,
    NATS_URL: services.nats.url,
    STRATA_TEST_RUNTIME: args.runtime,
  };
  console.log(`running ${files.length} test file${files.length === 1 ? "" : "s"} on ${args.runtime}, ${args.jobs} at a time`);

  const results: FileResult[] = [];
  const queue = [...files];
  try {
    await Promise.all(
      Array.from({ length: Math.min(args.jobs, files.length) }, async () => {
        for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
          const r = await runFile(file, args, env);
          results.push(r);
          const mark = r.failed === 0 ? "PASS" : "FAIL";
          const why = r.timedOut ? `, killed after ${args.timeoutSec} s` : r.code !== 0 ? `, exit ${r.code}` : "";
          console.log(`\n── ${mark} ${r.file} (${r.passed} passed, ${r.failed} failed, ${(r.ms / 1000).toFixed(1)} s${why})`);
          process.stdout.write(r.output.endsWith("\n") || r.output === "" ? r.output : r.output + "\n");
        }
      }),
    );
  } finally {
    await stopAll();
  }

  const passed = results.reduce((n, r) => n + r.passed, 0);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  const bad = results.filter((r) => r.failed > 0).map((r) => r.file).sort();
  if (bad.length > 0) console.log(`\nfailed files:\n${bad.map((f) => `  ${f}`).join("\n")}`);
  console.log(`\n${passed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`test/run.ts: ${err instanceof Error ? err.stack : String(err)}`);
    console.log("0 passed, 1 failed");
    process.exit(1);
  },
);
