/** NATS_URL userinfo becomes connect options (nats.js ignores it in the URL). */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { natsConnectTarget } from "../../../supervisors/transport/nats-credentials.ts";

test("nats credentials - none, a bare token, user and password (percent-decoded)", () => {
  assert.equal(natsConnectTarget("nats://127.0.0.1:4222"), { servers: "nats://127.0.0.1:4222" });
  assert.equal(natsConnectTarget("nats://TOKEN123@127.0.0.1:4222"), { servers: "nats://127.0.0.1:4222", token: "TOKEN123" });
  assert.equal(natsConnectTarget("nats://strata:p%40ss@nats:4222"), { servers: "nats://nats:4222", user: "strata", pass: "p@ss" });
  assert.equal(natsConnectTarget("not a url"), { servers: "not a url" });
});

test.run();
