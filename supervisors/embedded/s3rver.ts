/**
 * Embedded S3-compatible store: s3rver in its own Node process (MACHINE.md: it needs
 * `NODE_OPTIONS=--openssl-legacy-provider`, or paginated ListObjectsV2 answers 500), listening
 * on a free loopback port it picks itself, storing under `<STRATA_DATA_DIR>/s3` so uploaded
 * objects survive a restart. Credentials S3RVER/S3RVER, path-style addressing.
 * The child holds a pipe to our process as its stdin and exits when it closes, so it does not
 * outlive a host that dies (even by SIGKILL). Works from Node and Deno (the child is always Node).
 */
import { mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import { nodeBinary, spawnEmbedded } from "./child.ts";

export interface EmbeddedS3 {
  readonly endpoint: string;
  readonly port: number;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly directory: string;
  stop(): Promise<void>;
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

const CHILD_SCRIPT = `
const S3rver = require("s3rver");
const server = new S3rver({ address: "127.0.0.1", port: 0, directory: process.argv[1], silent: true });
server.run().then((addr) => process.stdout.write("S3RVER_PORT " + addr.port + "\\n"), (err) => { console.error(err); process.exit(1); });
const bye = () => server.close().finally(() => process.exit(0));
process.on("SIGTERM", bye);
process.on("SIGINT", bye);
process.stdin.on("end", bye);
process.stdin.on("error", bye);
process.stdin.resume();
`;

export async function startEmbeddedS3(opts: { directory: string; log: Logger; readyTimeoutMs?: number }): Promise<EmbeddedS3> {
  await mkdir(opts.directory, { recursive: true });
  // Not our environment (settings, secrets): PATH, HOME and the like, and NODE_OPTIONS with only
  // the flag s3rver needs (no loader of ours).
  const extraEnv = { NODE_OPTIONS: "--openssl-legacy-provider" };
  const child = spawnEmbedded("s3rver", nodeBinary(), ["-e", CHILD_SCRIPT, opts.directory], { cwd: ROOT, extraEnv, stdio: ["pipe", "pipe", "pipe"], log: opts.log });
  const timeoutMs = opts.readyTimeoutMs ?? 30_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      child.process.stdout?.on("data", (d) => {
        out += String(d);
        const m = /S3RVER_PORT (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      void child.done.then((code) => reject(new Error(`embedded s3rver exited (code ${code}) before it was ready: ${child.output().slice(-1000)}`)));
      timer = setTimeout(() => reject(new Error(`embedded s3rver did not start within ${timeoutMs} ms: ${child.output().slice(-1000)}`)), timeoutMs);
    });
    const endpoint = `http://127.0.0.1:${port}`;
    opts.log.info({ endpoint, directory: opts.directory }, `s3: embedded s3rver at ${endpoint} (data in ${opts.directory})`);
    return {
      endpoint,
      port,
      region: "us-east-1",
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
      directory: opts.directory,
      stop: () => child.stop(),
    };
  } catch (err) {
    await child.stop(1000);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
