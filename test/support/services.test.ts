/** test services: private instances on free ports answer their real protocol, and stop cleanly. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import fs from "node:fs";
import net from "node:net";
import pg from "pg";
import { Redis } from "ioredis";
import {
  findBinary,
  freePort,
  probe,
  resolveService,
  ServiceUnavailableError,
  startPrivateNats,
  startPrivatePostgres,
  startPrivateRedis,
} from "./services.ts";

function portOf(url: string): number {
  return Number(new URL(url).port);
}

async function portIsClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.on("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.on("error", () => resolve(true));
  });
}

test("services - a private Redis on a free port answers PING and is gone after stop", async () => {
  const redis = await startPrivateRedis();
  assert.is(redis.origin, "private");
  assert.not.equal(portOf(redis.url), 6379);
  const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await client.connect();
    assert.is(await client.ping(), "PONG");
    await client.set("k", "v");
    assert.is(await client.get("k"), "v");
  } finally {
    client.disconnect();
  }
  await redis.stop();
  assert.ok(await portIsClosed(portOf(redis.url)));
  assert.is(await probe("redis", redis.url, 500) !== undefined, true);
});

test("services - a private nats-server with JetStream greets with INFO", async () => {
  const nats = await startPrivateNats();
  try {
    assert.is(await probe("nats", nats.url), undefined);
    const info = await new Promise<string>((resolve, reject) => {
      const s = net.connect({ host: "127.0.0.1", port: portOf(nats.url) });
      s.setEncoding("utf8");
      s.on("data", (d: string) => {
        s.destroy();
        resolve(d);
      });
      s.on("error", reject);
    });
    assert.match(info, /^INFO \{/);
    assert.match(info, '"jetstream":true');
  } finally {
    await nats.stop();
  }
  assert.ok(await portIsClosed(portOf(nats.url)));
});

test("services - a private PostgreSQL cluster (initdb + pg_ctl) answers SELECT 1 and its folder is removed", async () => {
  const postgres = await startPrivatePostgres();
  const client = new pg.Client({ connectionString: postgres.url });
  try {
    await client.connect();
    const res = await client.query("SELECT current_user AS u, 40 + 2 AS n");
    assert.equal(res.rows[0], { u: "postgres", n: 42 });
  } finally {
    await client.end();
    await postgres.stop();
  }
  assert.ok(await portIsClosed(portOf(postgres.url)));
});

test("services - an env URL that does not answer fails naming the key, password masked", async () => {
  const port = await freePort();
  try {
    await resolveService("redis", { REDIS_URL: `redis://u:pw123@127.0.0.1:${port}` });
    assert.unreachable("should fail");
  } catch (err) {
    assert.instance(err, ServiceUnavailableError);
    assert.match((err as Error).message, `REDIS_URL=redis://u:[Redacted]@127.0.0.1:${port} does not answer`);
    assert.not.match((err as Error).message, "pw123");
  }
});

test("services - with nothing answering and no binary, the error names the Debian package", async () => {
  const dead = `nats://127.0.0.1:${await freePort()}`;
  const empty = fs.mkdtempSync("/tmp/strata-nobin-");
  try {
    for (const [name, pkg, url] of [["nats", "nats-server", dead], ["redis", "redis-server", dead.replace("nats", "redis")], ["postgres", "postgresql", dead.replace("nats", "postgres")]] as const) {
      try {
        await resolveService(name, {}, { searchPath: [empty], localUrls: { [name]: url } });
        assert.unreachable(`${name} should fail`);
      } catch (err) {
        assert.instance(err, ServiceUnavailableError);
        assert.match((err as Error).message, `apt-get install -y ${pkg}`);
      }
    }
  } finally {
    fs.rmSync(empty, { recursive: true, force: true });
  }
  assert.is(findBinary("redis-server", [empty]), undefined);
});

test("services - a local server that answers is used as it is", async () => {
  const redis = await startPrivateRedis();
  try {
    const handle = await resolveService("redis", {}, { localUrls: { redis: redis.url } });
    assert.is(handle.origin, "local");
    assert.is(handle.url, redis.url);
    await handle.stop(); // a no-op: not ours
    assert.is(await probe("redis", redis.url), undefined);
  } finally {
    await redis.stop();
  }
});

test.run();
