/** README and docs stay true to the code: every config key documented, the first screen's commands present. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import fs from "node:fs";
import path from "node:path";
import { coreConfig, knownConfigKeys } from "../../config/mod.ts";
import { KIND_SECTIONS } from "../../cli/commands/kind-sections.ts";

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const read = (p: string) => fs.readFileSync(path.join(repoRoot, p), "utf8");

test("docs - README's first screen gives npm start and npm test and the prerequisites", () => {
  const firstScreen = read("README.md").split("\n").slice(0, 40).join("\n");
  assert.match(firstScreen, "npm start");
  assert.match(firstScreen, "npm test");
  assert.match(firstScreen, "apt-get install -y postgresql redis-server nats-server");
  assert.match(firstScreen, "docker compose up -d");
});

test("docs - every config key is in docs/operations.md, every core key in the README", () => {
  const ops = read("docs/operations.md");
  const readme = read("README.md");
  // The predeclared keys still in effect with the kinds' own sections (a kind may drop or add keys;
  // what it adds is listed by `strata config` and may lag here).
  const effective = knownConfigKeys(KIND_SECTIONS);
  const keys = [...knownConfigKeys()].filter((k) => effective.has(k));
  assert.ok(keys.length > 40, `only ${keys.length} keys`);
  for (const key of keys) assert.ok(ops.includes("`" + key + "`"), `${key} missing from docs/operations.md`);
  for (const f of Object.values(coreConfig.fields)) assert.ok(readme.includes("`" + f.env + "`"), `${f.env} missing from README.md`);
});

test("docs - the admin routes the server serves are documented", () => {
  const ops = read("docs/operations.md");
  for (const route of ["GET /health", "GET /ready", "GET /metrics", "GET /actors", "GET /actors/:kind/:id", "POST /actors/:kind/:id/restart", "POST /actors/:kind/:id/stop"]) {
    assert.ok(ops.includes("`" + route + "`"), route);
  }
});

test("docs - package.json wires the commands the README names", () => {
  const pkg = JSON.parse(read("package.json")) as { scripts: Record<string, string>; bin: Record<string, string> };
  assert.is(pkg.bin.strata, "./cli/strata.js");
  for (const s of ["start", "test", "test:deno", "typecheck", "bench"]) assert.ok(pkg.scripts[s], s);
  assert.ok(fs.statSync(path.join(repoRoot, ".ci/run")).mode & 0o111, ".ci/run is executable");
});

test.run();
