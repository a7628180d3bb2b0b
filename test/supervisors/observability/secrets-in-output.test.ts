/**
 * Regression (security review): secrets inside service URLs reached people. ETH_RPC_ENDPOINT
 * carries an API key in its path, NATS_URL a token as userinfo; both were printed by
 * `strata config`, in the host's log lines and in `/health` detail (readable without a token).
 * Here the real `strata config` and `strata start` run as child processes (Node or Deno, like a
 * user runs them) with a private nats-server, and everything they wrote, plus the /health
 * answer, is searched for the secrets. (The server has no auth: the NATS transport does not pass
 * URL userinfo to nats.js yet, so a server requiring the token would refuse the host.)
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { repoRoot, runStrata } from "../../support/run-strata.ts";
import { startNatsServer } from "../../support/nats-server.ts";

const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
const RPC_KEY = "SECRETKEY123";
const NATS_TOKEN = "TOKEN123";
/** anvil's second public dev key: a valid key that must not show either. */
const PAYER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

function assertNoSecret(text: string, where: string): void {
  for (const secret of [RPC_KEY, NATS_TOKEN, PAYER_KEY.slice(2)]) assert.not.ok(text.includes(secret), `${secret} appears in ${where}:\n${text.slice(0, 4000)}`);
}

test("secrets in output - strata config shows the URLs as scheme://host:port with the key and token masked", async () => {
  const env = { ETH_RPC_ENDPOINT: `https://rpc.example/v2/${RPC_KEY}`, NATS_URL: `nats://${NATS_TOKEN}@127.0.0.1:4222`, ETH_PRIVATE_KEY: PAYER_KEY };
  const text = await runStrata(["config"], env);
  assert.is(text.code, 0, text.stderr);
  assertNoSecret(text.stdout + text.stderr, "strata config");
  assert.match(text.stdout, /^ {2}ETH_RPC_ENDPOINT +https:\/\/rpc\.example\/\*\*\* +env$/m);
  assert.match(text.stdout, /^ {2}NATS_URL +nats:\/\/\*\*\*@127\.0\.0\.1:4222 +env$/m);
  const json = await runStrata(["config", "--json"], env);
  assert.is(json.code, 0, json.stderr);
  assertNoSecret(json.stdout, "strata config --json");
});

test("secrets in output - the host's log lines and /health never contain the RPC key or the NATS token", async () => {
  const nats = await startNatsServer();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "strata-secrets-"));
  const cmd = deno ? [deno.execPath(), "run", "-A", "cli/main.ts", "start"] : [process.execPath, "cli/strata.js", "start"];
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? os.tmpdir(),
    STRATA_DATA_DIR: dataDir,
    ADMIN_PORT: "0",
    LOG_LEVEL: "debug",
    STRATA_KINDS: "worker-partition",
    ETH_RPC_ENDPOINT: `https://rpc.example/v2/${RPC_KEY}`,
    ETH_PRIVATE_KEY: PAYER_KEY,
    NATS_URL: `nats://${NATS_TOKEN}@127.0.0.1:${nats.port}`,
  };
  const child = spawn(cmd[0], cmd.slice(1), { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += String(d)));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on("data", (d) => {
        stdout += String(d);
        if (stdout.includes("strata host ready: admin at")) resolve();
      });
      void exited.then((code) => reject(new Error(`strata start exited with ${code} before it was ready:\n${stderr}\n${stdout.slice(-3000)}`)));
    });
    const lines = stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { msg: string; url?: string });
    const admin = lines.find((l) => l.msg.startsWith("strata host ready: admin at"))!.url!;
    assert.ok(lines.some((l) => l.msg === `transport: nats at nats://***@127.0.0.1:${nats.port}`), stdout.slice(0, 3000));
    const health = await fetch(`${admin}/health`);
    const body = await health.text();
    assertNoSecret(body, "/health");
    const deps = (JSON.parse(body) as { dependencies: { name: string; ok: boolean; detail: string }[] }).dependencies;
    assert.is(deps.find((d) => d.name === "nats")?.detail, `nats nats://***@127.0.0.1:${nats.port}`);
    assert.is(deps.find((d) => d.name === "nats")?.ok, true);
    const eth = deps.find((d) => d.name === "eth-rpc");
    assert.ok(eth, body);
    assert.match(eth!.detail, "https://rpc.example/***");
    // process.kill, not child.kill: Deno reports a child it signalled itself as killed (code null).
    process.kill(child.pid!, "SIGTERM");
    assert.is(await exited, 0, stderr);
    assertNoSecret(stdout, "the host's stdout");
    assertNoSecret(stderr, "the host's stderr");
    assert.ok(stdout.includes("https://rpc.example/***"), "the payments line names the RPC endpoint by its masked form");
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid!, "SIGKILL");
      await exited;
    }
    await nats.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test.run();
