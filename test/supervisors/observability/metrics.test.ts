/** metrics: a registry per process, default metrics, helpers registered in that registry only. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import client from "prom-client";
import { createMetrics } from "../../../supervisors/observability/metrics.ts";

test("metrics - helpers register prefixed metrics in their own registry", async () => {
  const m = createMetrics({ labels: { host: "h1" } });
  const c = m.counter("messages_total", "Messages handled", ["kind"]);
  c.inc({ kind: "vault-term" }, 3);
  const g = m.gauge("mailbox_depth", "Mailbox depth", ["kind"], (gauge) => gauge.set({ kind: "operator" }, 7));
  g.set({ kind: "network" }, 2);
  const h = m.histogram("apply_seconds", "Apply latency", ["kind"]);
  h.observe({ kind: "operator" }, 0.003);
  const text = await m.text();
  assert.match(text, 'strata_messages_total{kind="vault-term",host="h1"} 3');
  assert.match(text, 'strata_mailbox_depth{kind="operator",host="h1"} 7');
  assert.match(text, 'strata_apply_seconds_bucket{le="0.005",host="h1",kind="operator"} 1');
  assert.match(text, "strata_process_cpu_user_seconds_total");
  assert.match(m.contentType, "text/plain");
  // Nothing leaks into prom-client's global registry.
  assert.not.match(await client.register.metrics(), "strata_messages_total");
});

test("metrics - two registries in one process do not collide", async () => {
  const a = createMetrics({ defaultMetrics: false });
  const b = createMetrics({ defaultMetrics: false });
  a.counter("x_total", "x").inc();
  b.counter("x_total", "x").inc(5);
  assert.match(await a.text(), "strata_x_total 1");
  assert.match(await b.text(), "strata_x_total 5");
  assert.throws(() => a.counter("x_total", "again"), /already been registered/);
  assert.throws(() => a.counter("bad name", "x"), /bad metric name/);
});

test.run();
