/** logger: secrets never appear in the lines actually written (parsed back as JSON). */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createLogger, REDACTED, redactValue } from "../../../supervisors/observability/logger.ts";

function collector() {
  const lines: string[] = [];
  return {
    lines,
    stream: { write: (chunk: string) => void lines.push(...chunk.split("\n").filter((l) => l !== "")) },
    parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const SECRETS = {
  key: "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
  keystorePassword: "ks-pass-8c1f",
  adminToken: "adm-tok-77a1",
  dbPassword: "db-pw-a9e3",
  redisPassword: "redis-pw-51bd",
  natsPassword: "nats-pw-03cc",
  awsSecret: "aws-secret-e6f0",
};

test("logger - secret config keys, nested secrets and URL passwords never reach the output", () => {
  const out = collector();
  const log = createLogger({ level: "debug", destination: out.stream });
  log.info(
    {
      ETH_PRIVATE_KEY: SECRETS.key,
      ETH_KEYSTORE_PASSWORD: SECRETS.keystorePassword,
      ADMIN_TOKEN: SECRETS.adminToken,
      DATABASE_URL: `postgres://strata:${SECRETS.dbPassword}@db.internal:5432/strata`,
      config: { REDIS_URL: `redis://default:${SECRETS.redisPassword}@cache:6379/0`, s3: { AWS_SECRET_ACCESS_KEY: SECRETS.awsSecret } },
      deep: { a: { b: { c: { d: { privateKey: SECRETS.key, password: SECRETS.dbPassword } } } } },
      list: [{ token: SECRETS.adminToken }],
    },
    "starting",
  );
  log.warn(`connecting to nats://app:${SECRETS.natsPassword}@nats:4222 failed`);
  log.debug({ req: { headers: { authorization: `Bearer ${SECRETS.adminToken}` } } }, "admin request");
  log.error({ err: new Error(`connect postgres://u:${SECRETS.dbPassword}@h/db refused`) }, "db down");
  log.child({ url: `postgres://u:${SECRETS.dbPassword}@h/db` }).info("child line");

  const text = out.lines.join("\n");
  for (const [name, secret] of Object.entries(SECRETS)) assert.not.match(text, secret, `${name} leaked`);
  const [first, second, third, fourth, fifth] = out.parsed();
  assert.is(out.lines.length, 5);
  assert.is(first.msg, "starting");
  assert.is(first.ETH_PRIVATE_KEY, REDACTED);
  assert.is(first.ETH_KEYSTORE_PASSWORD, REDACTED);
  assert.is(first.ADMIN_TOKEN, REDACTED);
  assert.is(first.DATABASE_URL, `postgres://strata:${REDACTED}@db.internal:5432/strata`);
  const config = first.config as { REDIS_URL: string; s3: Record<string, string> };
  assert.is(config.REDIS_URL, `redis://default:${REDACTED}@cache:6379/0`);
  assert.is(config.s3.AWS_SECRET_ACCESS_KEY, REDACTED);
  assert.equal((first.deep as any).a.b.c.d, { privateKey: REDACTED, password: REDACTED });
  assert.equal(first.list, [{ token: REDACTED }]);
  assert.is(second.msg, `connecting to nats://app:${REDACTED}@nats:4222 failed`);
  assert.is((third.req as any).headers.authorization, REDACTED);
  assert.match(String((fourth.err as any).message), `postgres://u:${REDACTED}@h/db refused`);
  assert.is((fourth.err as any).type, "Error");
  assert.is(fifth.url, `postgres://u:${REDACTED}@h/db`);
});

test("logger - ordinary fields pass through unchanged and levels filter", () => {
  const out = collector();
  const log = createLogger({ level: "info", destination: out.stream, bindings: { host: "h1" } });
  log.debug("hidden");
  log.info({ kind: "vault-term", count: 3, url: "http://example.com/x", amountWei: 10n ** 20n }, "visible");
  const lines = out.parsed();
  assert.is(lines.length, 1);
  assert.is(lines[0].host, "h1");
  assert.is(lines[0].kind, "vault-term");
  assert.is(lines[0].count, 3);
  assert.is(lines[0].url, "http://example.com/x");
  assert.is(lines[0].amountWei, "100000000000000000000");
});

test("logger - extra secret keys from config are redacted too, for that logger", () => {
  const out = collector();
  const log = createLogger({ destination: out.stream, secretKeys: ["SIGNING_MATERIAL"] });
  log.info({ SIGNING_MATERIAL: "material-91", other: { signing_material: "material-92" } }, "x");
  assert.not.match(out.lines[0], "material-9");
  assert.is(out.parsed()[0].SIGNING_MATERIAL, REDACTED);
  const plain = collector();
  createLogger({ destination: plain.stream }).info({ SIGNING_MATERIAL: "shown" }, "y");
  assert.is(plain.parsed()[0].SIGNING_MATERIAL, "shown");
});

test("logger - secret-looking key names are redacted by fragment, ordinary ones are not", () => {
  const out = collector();
  createLogger({ destination: out.stream }).info(
    { POOL_S3_SECRET_KEY: "s1", dbPassword: "s2", "x-api-key": "s3", accessToken: "s4", tokenId: "42", tokenAddress: "0xabc" },
    "z",
  );
  const line = out.parsed()[0];
  assert.equal([line.POOL_S3_SECRET_KEY, line.dbPassword, line["x-api-key"], line.accessToken], [REDACTED, REDACTED, REDACTED, REDACTED]);
  assert.is(line.tokenId, "42");
  assert.is(line.tokenAddress, "0xabc");
});

test("logger - regression: known secret values are scrubbed from the finished line, whatever key, message, binding or format carries them", () => {
  const rpc = "https://rpc.example/v2/SECRETKEY123";
  const out = collector();
  const log = createLogger({
    destination: out.stream,
    bindings: { endpoint: rpc },
    secretLiterals: [
      { value: rpc, shownAs: "https://rpc.example/***" },
      { value: "nats://TOKEN123@127.0.0.1:4222", shownAs: "nats://***@127.0.0.1:4222" },
      { value: 'ks"pass\\word', shownAs: REDACTED },
    ],
  });
  log.info({ rpcUrl: rpc, detail: { nested: [`POST ${rpc} failed`] } }, `payments on ${rpc}`);
  log.warn("transport %s down (%j)", "nats://TOKEN123@127.0.0.1:4222", { server: "nats://TOKEN123@127.0.0.1:4222" });
  log.child({ pw: 'ks"pass\\word' }).error({ err: new Error(`unlock failed for ks"pass\\word at ${rpc}`) }, "keystore");
  const text = out.lines.join("\n");
  assert.not.match(text, "SECRETKEY123");
  assert.not.match(text, "TOKEN123");
  assert.not.match(text, "pass\\\\word");
  const [first, second, third] = out.parsed();
  assert.is(first.msg, "payments on https://rpc.example/***");
  assert.is(first.rpcUrl, "https://rpc.example/***");
  assert.is(first.endpoint, "https://rpc.example/***");
  assert.equal(first.detail, { nested: ["POST https://rpc.example/*** failed"] });
  // The string argument is masked by the text pass; the %j object only by the line scrub.
  assert.is(second.msg, `transport nats://${REDACTED}@127.0.0.1:4222 down ({"server":"nats://***@127.0.0.1:4222"})`);
  assert.is((third.err as { message: string }).message, `unlock failed for ${REDACTED} at https://rpc.example/***`);
  // Without the literals, the same line shows the URL: the scrub is what hides it.
  const plain = collector();
  createLogger({ destination: plain.stream }).info({ rpcUrl: rpc }, "x");
  assert.is(plain.parsed()[0].rpcUrl, rpc);
});

test("logger - redactValue handles cycles without throwing", () => {
  const a: Record<string, unknown> = { name: "a" };
  a.self = a;
  assert.equal(redactValue(a), { name: "a", self: "[Circular]" });
});

test.run();
