/**
 * Regression: `deno task start|test` failed with "Uncaught SyntaxError" because a bare `deno`
 * inside a task resolves to node_modules/.bin/deno (the npm package's native binary), which
 * deno task runs as a Node script. The tasks name the binary by path; this runs one for real.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const denoBin = fileURLToPath(new URL("../../node_modules/.bin/deno", import.meta.url));

test("deno.json - nodeModulesDir manual and the two tasks", () => {
  const cfg = JSON.parse(readFileSync(new URL("../../deno.json", import.meta.url), "utf8")) as { nodeModulesDir: string; tasks: Record<string, string> };
  assert.is(cfg.nodeModulesDir, "manual");
  assert.match(cfg.tasks.start, /cli\/main\.ts start$/);
  assert.match(cfg.tasks.test, /test\/run\.ts --runtime=deno$/);
});

test("deno.json - `deno task test <filter>` runs the suite's files under Deno", () => {
  const res = spawnSync(denoBin, ["task", "test", "test/protocols/partition"], { cwd: root, encoding: "utf8", timeout: 180_000 });
  const out = `${res.stdout}\n${res.stderr}`;
  assert.is(res.status, 0, out.slice(-2000));
  assert.match(out, /^\d+ passed, 0 failed$/m);
});

test.run();
