/**
 * `npm run bench -- [name…]`: runs `test/bench/<name>.bench.ts` (every bench file when no name is
 * given) as child processes, one at a time (benchmarks share two cores), passing their
 * `name: value unit` lines through. Other output goes to stderr. Exit non-zero when a bench fails
 * or a name has no file. `--runtime=deno` runs them on Deno. Services are found (or started) as
 * `npm test` does (test/support/services.ts) and passed as DATABASE_URL, REDIS_URL, NATS_URL.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { resolveServices, runtimeCommand } from "../support/services.ts";

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(benchDir, "../..");
const RESULT_LINE = /^[A-Za-z0-9_.:-]+: -?[0-9.eE+-]+( \S+)?$/;

function runBench(file: string, runtime: "node" | "deno", env: Record<string, string | undefined>): Promise<number> {
  const rel = path.relative(repoRoot, file);
  const [cmd, ...args] = runtimeCommand(runtime, rel);
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: repoRoot, env, stdio: ["ignore", "pipe", "inherit"] });
    let pending = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) (RESULT_LINE.test(line.trim()) ? process.stdout : process.stderr).write(line + "\n");
    });
    child.on("error", (err) => {
      process.stderr.write(`${rel}: ${err.message}\n`);
      resolve(127);
    });
    child.on("close", (code) => {
      if (pending) (RESULT_LINE.test(pending.trim()) ? process.stdout : process.stderr).write(pending + "\n");
      resolve(code ?? 1);
    });
  });
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const runtime = argv.includes("--runtime=deno") ? "deno" : "node";
  const names = argv.filter((a) => !a.startsWith("--"));
  const all = fs.readdirSync(benchDir).filter((f) => f.endsWith(".bench.ts")).sort();
  const files: string[] = [];
  for (const name of names) {
    const f = `${name}.bench.ts`;
    if (!all.includes(f)) {
      process.stderr.write(`bench: no test/bench/${f} (have: ${all.map((a) => a.replace(".bench.ts", "")).join(", ") || "none"})\n`);
      return 2;
    }
    files.push(f);
  }
  if (names.length === 0) files.push(...all);
  if (files.length === 0) {
    process.stderr.write("bench: no test/bench/*.bench.ts files\n");
    return 2;
  }
  let services;
  try {
    services = await resolveServices(process.env);
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    return 1;
  }
  const env = { ...process.env, DATABASE_URL: services.postgres.url, REDIS_URL: services.redis.url, NATS_URL: services.nats.url };
  let failed = 0;
  try {
    for (const f of files) {
      process.stderr.write(`bench: ${f}\n`);
      const code = await runBench(path.join(benchDir, f), runtime, env);
      if (code !== 0) {
        process.stderr.write(`bench: ${f} exited ${code}\n`);
        failed++;
      }
    }
  } finally {
    await Promise.all(Object.values(services).map((s) => s.stop().catch(() => {})));
  }
  return failed > 0 ? 1 : 0;
}

main().then((code) => process.exit(code));
