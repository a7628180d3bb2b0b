/**
 * The embedded children (s3rver, anvil under its guard) get PATH, HOME and the like, never the
 * host's settings or secrets: their /proc/<pid>/environ (Linux) holds no ETH_PRIVATE_KEY,
 * ADMIN_TOKEN or DATABASE_URL given to this process.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { createLogger } from "../../../supervisors/observability/logger.ts";
import { startEmbeddedS3 } from "../../../supervisors/embedded/s3rver.ts";
import { startEmbeddedAnvil } from "../../../supervisors/embedded/anvil.ts";

const SECRETS = {
  ETH_PRIVATE_KEY: "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  ADMIN_TOKEN: "admin-tok-child-env-7",
  DATABASE_URL: "postgres://strata:pw-child-env-9@127.0.0.1:5432/strata",
};

/** Every process below `root`, from /proc/<pid>/stat's parent pid. */
async function descendants(root: number): Promise<number[]> {
  const parent = new Map<number, number>();
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, "utf8");
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length > 0) {
    const p = todo.pop()!;
    for (const [pid, ppid] of parent) if (ppid === p) (out.push(pid), todo.push(pid));
  }
  return out;
}

async function environ(pid: number): Promise<{ cmd: string; env: Map<string, string> }> {
  const cmd = (await readFile(`/proc/${pid}/cmdline`, "utf8")).split("\0").join(" ");
  const env = new Map<string, string>();
  for (const kv of (await readFile(`/proc/${pid}/environ`, "utf8")).split("\0")) {
    const i = kv.indexOf("=");
    if (i > 0) env.set(kv.slice(0, i), kv.slice(i + 1));
  }
  return { cmd, env };
}

test("embedded children - s3rver and anvil hold none of the host's secrets in their environment", async () => {
  if (process.platform !== "linux") return console.log("skipped: reads /proc");
  const before = Object.fromEntries(Object.keys(SECRETS).map((k) => [k, process.env[k]]));
  Object.assign(process.env, SECRETS);
  const dir = await mkdtemp(path.join(os.tmpdir(), "strata-child-env-"));
  const log = createLogger({ level: "silent" });
  const s3 = await startEmbeddedS3({ directory: path.join(dir, "s3"), log });
  const anvil = await startEmbeddedAnvil({ directory: path.join(dir, "anvil"), log }).catch(async (err) => {
    await s3.stop();
    throw err;
  });
  try {
    // Only the embedded ones: the test runner's own helpers (tsx's esbuild) are children too.
    const all = await Promise.all((await descendants(process.pid)).map(environ));
    const children = all.filter((c) => c.cmd.includes("S3RVER_PORT") || c.cmd.includes("/bin/anvil --host"));
    const s3rver = children.find((c) => c.cmd.includes("S3RVER_PORT"));
    assert.ok(s3rver, `s3rver among ${all.map((c) => c.cmd.slice(0, 80)).join(" | ")}`);
    assert.is(children.length, 3, `s3rver, anvil's guard and anvil: ${children.map((c) => c.cmd.slice(0, 80)).join(" | ")}`);
    for (const c of children) {
      for (const [key, value] of Object.entries(SECRETS)) {
        assert.not.ok(c.env.has(key), `${key} in the environment of ${c.cmd.slice(0, 60)}`);
        for (const v of c.env.values()) assert.not.ok(v.includes(value), `${key}'s value in the environment of ${c.cmd.slice(0, 60)}`);
      }
      assert.is(c.env.get("PATH"), process.env.PATH, "PATH is passed");
    }
    assert.is(s3rver!.env.get("NODE_OPTIONS"), "--openssl-legacy-provider");
  } finally {
    await anvil.stop();
    await s3.stop();
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
