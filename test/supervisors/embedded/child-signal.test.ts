/**
 * An embedded child that exits on its own is an error, unless this process has received
 * SIGINT/SIGTERM (Ctrl-C reaches the whole process group, the children included, before the
 * host stops them): then it is logged at info. Simulated deterministically: this process handles
 * SIGINT (as cli/main.ts does), and the signal is sent to it and to the child separately.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import process from "node:process";
import { Writable } from "node:stream";
import { createLogger } from "../../../supervisors/observability/logger.ts";
import { nodeBinary, spawnEmbedded } from "../../../supervisors/embedded/child.ts";

const SCRIPT = `process.on("SIGINT", () => process.exit(0)); process.stdout.write("up\\n"); setInterval(() => {}, 1000);`;

function capture() {
  const lines: { level: number; msg: string; embedded?: string }[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split("\n")) if (l.trim()) lines.push(JSON.parse(l));
      done();
    },
  });
  return { lines, log: createLogger({ level: "debug", destination }) };
}

async function startChild(name: string, log: ReturnType<typeof createLogger>) {
  const child = spawnEmbedded(name, nodeBinary(), ["-e", SCRIPT], { log, stdio: ["ignore", "pipe", "pipe"] });
  await new Promise<void>((resolve) => child.process.stdout!.once("data", () => resolve()));
  return child;
}

test("embedded child - exits on its own: error; after this process got SIGINT: info", async () => {
  const { lines, log } = capture();
  let stops = 0;
  const handler = () => void stops++;
  process.on("SIGINT", handler); // this process handles SIGINT, as `strata start` does
  try {
    const early = await startChild("early", log);
    process.kill(early.process.pid!, "SIGINT"); // only the child: nothing stops this process
    await early.done;
    const late = await startChild("late", log);
    process.kill(process.pid, "SIGINT"); // Ctrl-C: this process …
    while (stops === 0) await new Promise((r) => setTimeout(r, 10));
    process.kill(late.process.pid!, "SIGINT"); // … and the child
    await late.done;
    await new Promise((r) => setTimeout(r, 20));
    const byChild = (name: string) => lines.filter((l) => l.embedded === name).map((l) => [l.level, l.msg]);
    assert.equal(byChild("early"), [[50, "embedded early exited unexpectedly"]]);
    assert.equal(byChild("late"), [[30, "embedded late exited after SIGINT (the host is stopping)"]]);
  } finally {
    process.off("SIGINT", handler);
  }
});

test.run();
