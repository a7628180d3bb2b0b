/**
 * compose.yaml and Dockerfile: the services the stack needs, published on the ports `npm test`
 * probes, and every environment variable given to Strata is a key the config module knows.
 * A small indentation-based reader covers the YAML subset compose.yaml uses (no new dependency).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import fs from "node:fs";
import path from "node:path";
import { knownConfigKeys, loadConfig } from "../../config/mod.ts";

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");

type Yaml = string | Yaml[] | { [key: string]: Yaml };

/** Split `a, "b,c", 'd'` on the commas outside quotes. */
function splitFlow(text: string): string[] {
  const items: string[] = [];
  let current = "";
  let quote: string | null = null;
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = null;
      current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      current += ch;
    } else if (ch === ",") {
      items.push(current.trim());
      current = "";
    } else current += ch;
  }
  if (current.trim() !== "") items.push(current.trim());
  return items;
}

/** Block mappings, block sequences of scalars, flow sequences of scalars, quoted/plain scalars, comments. */
export function parseYamlSubset(text: string): Yaml {
  const lines = text
    .split("\n")
    .map((raw) => raw.replace(/\s+#.*$/, "").replace(/^\s*#.*$/, ""))
    .map((raw) => ({ indent: raw.length - raw.trimStart().length, text: raw.trim() }))
    .filter((l) => l.text !== "");
  let i = 0;
  const scalar = (s: string): Yaml => {
    const t = s.trim();
    if (t.startsWith("[") && t.endsWith("]")) return splitFlow(t.slice(1, -1)).map((x) => scalar(x) as string);
    if ((t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'"))) return t.slice(1, -1);
    return t;
  };
  const block = (indent: number): Yaml => {
    if (lines[i].text.startsWith("- ")) {
      const seq: Yaml[] = [];
      while (i < lines.length && lines[i].indent === indent && lines[i].text.startsWith("- ")) seq.push(scalar(lines[i++].text.slice(2)));
      return seq;
    }
    const map: Record<string, Yaml> = {};
    while (i < lines.length && lines[i].indent === indent) {
      const m = /^("[^"]+"|[^:]+):(?:\s+(.*))?$/.exec(lines[i].text);
      if (!m) throw new Error(`compose.yaml line not understood: ${lines[i].text}`);
      const key = scalar(m[1]) as string;
      i++;
      if (m[2] === ">" || m[2] === "|") {
        const parts: string[] = [];
        while (i < lines.length && lines[i].indent > indent) parts.push(lines[i++].text);
        map[key] = parts.join(" ");
      } else if (m[2] !== undefined && m[2] !== "") map[key] = scalar(m[2]);
      else if (i < lines.length && lines[i].indent > indent) map[key] = block(lines[i].indent);
      else if (i < lines.length && lines[i].indent === indent && lines[i].text.startsWith("- ")) map[key] = block(indent);
      else map[key] = "";
    }
    return map;
  };
  return block(0);
}

const compose = parseYamlSubset(fs.readFileSync(path.join(repoRoot, "compose.yaml"), "utf8")) as Record<string, any>;

test("compose - has nats with JetStream, postgres, redis, an S3 store, clickhouse and strata", () => {
  const services = compose.services as Record<string, any>;
  for (const name of ["nats", "postgres", "redis", "minio", "clickhouse", "strata"]) assert.ok(services[name], `service ${name}`);
  assert.ok((services.nats.command as string[]).includes("-js"), "nats runs JetStream");
  assert.is(services.strata.build, ".");
});

test("compose - the services npm test probes are published on their usual loopback ports", () => {
  const services = compose.services as Record<string, any>;
  assert.ok(services.postgres.ports.includes("127.0.0.1:5432:5432"));
  assert.ok(services.redis.ports.includes("127.0.0.1:6379:6379"));
  assert.ok(services.nats.ports.includes("127.0.0.1:4222:4222"));
  assert.is(services.postgres.environment.POSTGRES_HOST_AUTH_METHOD, "trust");
  assert.ok(services.strata.ports.includes("127.0.0.1:8080:8080"));
});

test("compose - every variable given to strata is a config key, and the values load", () => {
  const env = compose.services.strata.environment as Record<string, string>;
  const known = knownConfigKeys();
  const keys = Object.keys(env);
  assert.ok(keys.length >= 10);
  for (const key of keys) assert.ok(known.has(key), `${key} is not a key config/ knows`);
  for (const key of ["DATABASE_URL", "NATS_URL", "REDIS_URL", "S3_ENDPOINT", "CLICKHOUSE_URL", "ADMIN_TOKEN"]) assert.ok(key in env, key);
  // The values as compose passes them (ADMIN_TOKEN interpolated by the operator) are valid.
  const config = loadConfig({ ...env, ADMIN_TOKEN: "from-the-operator" });
  assert.is(config.natsUrl, "nats://nats:4222");
  assert.is(config.adminHost, "0.0.0.0");
  assert.is(config.partitions, 16);
});

test("compose - Dockerfile builds on node:20-slim with npm ci and starts strata", () => {
  const dockerfile = fs.readFileSync(path.join(repoRoot, "Dockerfile"), "utf8");
  assert.match(dockerfile, /^FROM node:20-slim$/m);
  assert.match(dockerfile, /^RUN npm ci\b/m);
  assert.match(dockerfile, /^CMD \["npx", ?"strata", ?"start"\]$/m);
});

test("compose - the YAML reader reads what it claims", () => {
  assert.equal(parseYamlSubset("a:\n  b: \"1\"\n  c:\n    - x\n    - 'y'\n  d: [p, \"q\"]\ne: >\n  one\n  two\n"), { a: { b: "1", c: ["x", "y"], d: ["p", "q"] }, e: "one two" });
});

test.run();
