/** Payer keys: raw key or JSON keystore, password as a value or a file; secrets never in errors or logs. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { encryptKeystoreJson } from "ethers";
import { KeyConfigError, loadPayerWallet } from "../../../actors/worker-partition/payments/keys.ts";
import { DEV_ACCOUNTS } from "../../support/anvil.ts";

const { address, privateKey } = DEV_ACCOUNTS[1];
const PASSWORD = "correct horse battery staple";

async function withKeystore(fn: (dir: string, keystorePath: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "strata-keys-"));
  try {
    const json = await encryptKeystoreJson({ address, privateKey }, PASSWORD, { scrypt: { N: 1024 } });
    const path = join(dir, "payer.json");
    await writeFile(path, json);
    await fn(dir, path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a failure");
}

test("keys - a raw private key, with or without 0x", async () => {
  assert.is((await loadPayerWallet(privateKey)).address, address);
  assert.is((await loadPayerWallet(privateKey.slice(2))).address, address);
});

test("keys - a JSON keystore with the password as a value or as a file", async () => {
  await withKeystore(async (dir, keystore) => {
    assert.is((await loadPayerWallet(keystore, PASSWORD)).address, address);
    const passwordFile = join(dir, "password.txt");
    await writeFile(passwordFile, PASSWORD + "\n");
    assert.is((await loadPayerWallet(keystore, passwordFile)).address, address);
  });
});

test("keys - errors name the key, never its value, and logging them leaks nothing", async () => {
  await withKeystore(async (_dir, keystore) => {
    const errors = [
      await failure(loadPayerWallet(keystore, "wrong " + PASSWORD)),
      await failure(loadPayerWallet("0x" + "zz".repeat(32), PASSWORD)),
      await failure(loadPayerWallet(privateKey.slice(0, 60), PASSWORD)),
      await failure(loadPayerWallet(undefined)),
    ];
    assert.ok(errors.every((e) => e instanceof KeyConfigError));
    assert.match(errors[0].message, /could not be decrypted with ETH_KEYSTORE_PASSWORD/);
    assert.match(errors[2].message, /ETH_PRIVATE_KEY is neither a 32-byte hex key nor the path of a readable keystore file/);
    assert.match(errors[3].message, /ETH_PRIVATE_KEY is not set/);
    const lines: string[] = [];
    const log = pino({}, { write: (s: string) => void lines.push(s) });
    for (const err of errors) log.error({ err }, "payer key");
    log.info({ wallet: await loadPayerWallet(privateKey) }, "payer loaded");
    const written = lines.join("");
    assert.is(lines.length, 5);
    for (const secret of [PASSWORD, privateKey.slice(2), privateKey.slice(2, 60)]) assert.not.ok(written.includes(secret), "a secret reached the log");
  });
});

test.run();
