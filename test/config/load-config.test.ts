/** config/: defaults, precedence flag → env → default, fail-fast errors naming the key, sections. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  ConfigError,
  defineSection,
  field,
  knownConfigKeys,
  loadConfig,
  paymentsConfig,
  secretConfigKeys,
  vaultTermConfig,
  workerPartitionConfig,
} from "../../config/mod.ts";

test("config - defaults when nothing is set", () => {
  const c = loadConfig({});
  const partitions: number = c.partitions;
  assert.is(partitions, 16);
  assert.is(c.dataDir, "./data");
  assert.is(c.adminPort, 8080);
  assert.is(c.adminHost, "127.0.0.1");
  assert.is(c.adminToken, undefined);
  assert.is(c.databaseUrl, undefined);
  assert.is(c.logLevel, "info");
  assert.equal([...c.kinds], ["worker-partition", "vault-term"]);
  assert.ok(Object.isFrozen(c));
});

test("config - precedence is flag, then environment, then default", () => {
  const env = { ADMIN_PORT: "9001", STRATA_PARTITIONS: "32" };
  const c = loadConfig(env, { flags: { ADMIN_PORT: "9002" } });
  assert.is(c.adminPort, 9002);
  assert.is(c.partitions, 32);
  const entries = c.describe();
  assert.is(entries.find((e) => e.key === "ADMIN_PORT")?.source, "flag");
  assert.is(entries.find((e) => e.key === "STRATA_PARTITIONS")?.source, "env");
  assert.is(entries.find((e) => e.key === "LOG_LEVEL")?.source, "default");
});

test("config - an empty value counts as unset", () => {
  assert.is(loadConfig({ STRATA_PARTITIONS: "", DATABASE_URL: "  " }).partitions, 16);
});

test("config - a bad value fails fast naming the key and what was expected", () => {
  try {
    loadConfig({ STRATA_PARTITIONS: "abc" });
    assert.unreachable("should throw");
  } catch (err) {
    assert.instance(err, ConfigError);
    assert.is((err as Error).message, 'STRATA_PARTITIONS: expected a positive integer, got "abc"');
  }
});

test("config - every bad key is reported at once", () => {
  try {
    loadConfig({ STRATA_PARTITIONS: "0", ADMIN_PORT: "70000", LOG_LEVEL: "loud", STRATA_KINDS: "operator,bogus", DATABASE_URL: "mysql://x" });
    assert.unreachable("should throw");
  } catch (err) {
    const problems = (err as ConfigError).problems;
    assert.equal(problems, [
      'DATABASE_URL: expected a URL starting with postgres:// or postgresql://, got "mysql://x"',
      'STRATA_PARTITIONS: expected a positive integer, got "0"',
      'STRATA_KINDS: expected a comma-separated list of operator, network, worker-partition, vault-term, got "operator,bogus"',
      'ADMIN_PORT: expected a port number from 0 to 65535, got "70000"',
      'LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"',
    ]);
  }
});

test("config - ETH_RPC_ENDPOINT is HTTP(S) only: the RPC client cannot speak ws://", () => {
  try {
    loadConfig({ ETH_RPC_ENDPOINT: "wss://rpc.example:8546" });
    assert.unreachable("should throw");
  } catch (err) {
    assert.equal((err as ConfigError).problems, ['ETH_RPC_ENDPOINT: expected a URL starting with http:// or https://, got "wss://rpc.example:8546"']);
  }
  assert.is(loadConfig({ ETH_RPC_ENDPOINT: "https://rpc.example" }).ethRpcEndpoint, "https://rpc.example");
});

test("config - a bad URL error masks the password it contains", () => {
  try {
    loadConfig({ REDIS_URL: "http://u:hunter2@host:6379" });
    assert.unreachable("should throw");
  } catch (err) {
    assert.not.match((err as Error).message, "hunter2");
    assert.match((err as Error).message, "REDIS_URL: expected a URL starting with redis:// or rediss://");
  }
});

test("config - secrets and URL passwords never appear in describe()", () => {
  const c = loadConfig({ ADMIN_TOKEN: "tok-123456", DATABASE_URL: "postgres://app:pw-secret@db:5432/strata", ETH_PRIVATE_KEY: "0xabcdef" });
  assert.is(c.adminToken, "tok-123456");
  const text = JSON.stringify(c.describe());
  assert.not.match(text, "tok-123456");
  assert.not.match(text, "pw-secret");
  assert.not.match(text, "0xabcdef");
  assert.match(text, '"postgres://***@db:5432/strata"');
});

test("config - regression: URL keys in a path, a query or a bare-token userinfo are masked in describe() and errors", () => {
  const c = loadConfig({
    ETH_RPC_ENDPOINT: "https://rpc.example/v2/SECRETKEY123",
    NATS_URL: "nats://TOKEN123@127.0.0.1:4222",
    S3_ENDPOINT: "https://s3.example/?apikey=S3KEY4567",
  });
  assert.is(c.ethRpcEndpoint, "https://rpc.example/v2/SECRETKEY123", "the value itself is intact");
  const byKey = new Map(c.describe().map((e) => [e.key, e.value]));
  assert.is(byKey.get("ETH_RPC_ENDPOINT"), "https://rpc.example/***");
  assert.is(byKey.get("NATS_URL"), "nats://***@127.0.0.1:4222");
  assert.is(byKey.get("S3_ENDPOINT"), "https://s3.example?***");
  assert.not.match(JSON.stringify(c.describe()), /SECRETKEY123|TOKEN123|S3KEY4567/);
  try {
    loadConfig({ ETH_RPC_ENDPOINT: "ftp://rpc.example/v2/SECRETKEY123" });
    assert.unreachable("should throw");
  } catch (err) {
    assert.is((err as Error).message, 'ETH_RPC_ENDPOINT: expected a URL starting with http:// or https://, got "ftp://rpc.example/***"');
  }
});

test("config - secretLiterals: secret values (0x keys also bare) and URL values with their masked form", () => {
  const key = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
  const c = loadConfig({ ADMIN_TOKEN: "tok-123456", ETH_PRIVATE_KEY: key, ETH_RPC_ENDPOINT: "https://rpc.example/v2/SECRETKEY123", NATS_URL: "nats://127.0.0.1:4222" });
  const literals = c.secretLiterals();
  assert.ok(literals.some((l) => l.value === "tok-123456" && l.shownAs === "[Redacted]"));
  assert.ok(literals.some((l) => l.value === key && l.shownAs === "[Redacted]"));
  assert.ok(literals.some((l) => l.value === key.slice(2) && l.shownAs === "[Redacted]"));
  assert.ok(literals.some((l) => l.value === "https://rpc.example/v2/SECRETKEY123" && l.shownAs === "https://rpc.example/***"));
  assert.not.ok(literals.some((l) => l.value === "nats://127.0.0.1:4222"), "a URL shown as it is needs no scrub");
  assert.not.ok(literals.some((l) => l.value === "16" || l.value === "./data"), "plain values are not scrubbed");
});

test("config - domain sections parse seed keys: lists, wei as bigint, commission as exact basis points", () => {
  const c = loadConfig({ REDIS_STREAMS: "a, b,,a", PAYMENT_THRESHOLD_WEI: "20000000000000000", POOL_COMMISSION_RATE: "0.1234" });
  const vt = c.section(vaultTermConfig);
  assert.equal([...vt.redisStreams], ["a", "b"]);
  assert.is(vt.consumerGroup, "postgres-sync");
  assert.is(vt.batchSize, 100);
  const pay = c.section(paymentsConfig);
  const threshold: bigint = pay.paymentThresholdWei;
  assert.is(threshold, 20_000_000_000_000_000n);
  assert.is(pay.maxGasPriceWei, 5_000_000_000_000n);
  assert.is(pay.chainId, 42161);
  assert.is(c.section(workerPartitionConfig).poolCommissionBps, 1234);
  assert.is(loadConfig({}).section(workerPartitionConfig).poolCommissionBps, 2500);
});

test("config - commission rate with more than 4 decimals is a configuration error", () => {
  assert.throws(() => loadConfig({ POOL_COMMISSION_RATE: "0.12345" }), /POOL_COMMISSION_RATE: expected a decimal from 0 to 1 with at most 4 decimal places/);
  assert.throws(() => loadConfig({ MAX_GAS_PRICE_WEI: "5e12" }), /MAX_GAS_PRICE_WEI: expected a non-negative whole number/);
});

test("config - a kind contributes its own section and replaces the predeclared one by name", () => {
  const mine = defineSection("vault-term", {
    batchSize: field.positiveInt("BATCH_SIZE", { default: 500 }),
    lanes: field.int("VAULT_TERM_LANES", { min: 1, max: 16, default: 4 }),
  });
  const c = loadConfig({ VAULT_TERM_LANES: "8" }, { sections: [mine] });
  assert.equal({ ...c.section(mine) }, { batchSize: 500, lanes: 8 });
  assert.ok(knownConfigKeys([mine]).has("VAULT_TERM_LANES"));
  assert.throws(() => loadConfig({ VAULT_TERM_LANES: "99" }, { sections: [mine] }), /VAULT_TERM_LANES: expected an integer from 1 to 16, got "99"/);
  assert.throws(() => defineSection("Bad Name", {}), /lower-case/);
});

test("config - a required key that is missing is named", () => {
  const s = defineSection("needs", { url: field.url("EXAMPLE_DB_URL", ["postgres:"], { required: true }) });
  assert.throws(() => loadConfig({}, { sections: [s] }), /EXAMPLE_DB_URL: required/);
});

test("config - unknown STRATA_ keys are listed as likely typos", () => {
  const c = loadConfig({ STRATA_PARTITION: "4", STRATA_DATA_DIR: "/tmp/x", HOME: "/root" });
  assert.equal([...c.unknownKeys], ["STRATA_PARTITION"]);
});

test("config - secret keys are declared for the logger", () => {
  const secrets = secretConfigKeys();
  for (const k of ["ADMIN_TOKEN", "ETH_PRIVATE_KEY", "ETH_KEYSTORE_PASSWORD", "AWS_SECRET_ACCESS_KEY"]) assert.ok(secrets.has(k), k);
  assert.not.ok(secrets.has("STRATA_PARTITIONS"));
});

test.run();
