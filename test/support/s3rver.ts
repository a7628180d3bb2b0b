/**
 * An S3-compatible server for tests: s3rver in its own Node process (MACHINE.md: it needs
 * `NODE_OPTIONS=--openssl-legacy-provider` or paginated ListObjectsV2 fails), on a free port,
 * storing in a fresh temp folder. Credentials S3RVER/S3RVER, path-style addressing.
 * Works from Node and Deno (the child is always Node). stop() kills it and removes the folder;
 * the child also exits by itself when its parent dies (its stdin closes).
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { S3Client } from "@aws-sdk/client-s3";

export interface S3rverHandle {
  endpoint: string;
  port: number;
  accessKeyId: string;
  secretAccessKey: string;
  /** A client for this server (forcePathStyle, checksums only when required). */
  client(): S3Client;
  stop(): Promise<void>;
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

const CHILD = `
const S3rver = require("s3rver");
const server = new S3rver({ address: "127.0.0.1", port: 0, directory: process.argv[1], silent: true, allowMismatchedSignatures: false });
server.run().then((addr) => process.stdout.write("S3RVER_PORT " + addr.port + "\\n"), (err) => { console.error(err); process.exit(1); });
process.on("SIGTERM", () => server.close().finally(() => process.exit(0)));
// The parent holds our stdin: when it dies (even by SIGKILL) the pipe closes and we exit.
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
`;

export async function startS3rver(opts: { buckets?: string[] } = {}): Promise<S3rverHandle> {
  const dir = await mkdtemp(join(tmpdir(), "strata-s3rver-"));
  const nodeOptions = [process.env.NODE_OPTIONS, "--openssl-legacy-provider"].filter(Boolean).join(" ");
  const child = spawn("node", ["-e", CHILD, dir], { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: nodeOptions }, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += String(d)));
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += String(d);
      const m = /S3RVER_PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (code) => reject(new Error(`s3rver exited with ${code} before it was ready: ${stderr.slice(0, 2000)}`)));
    child.once("error", reject);
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const clients: S3Client[] = [];
  const handle: S3rverHandle = {
    endpoint,
    port,
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
    client() {
      const c = new S3Client({
        endpoint,
        region: "us-east-1",
        forcePathStyle: true,
        credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED",
      });
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.destroy();
      if (child.exitCode === null) {
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.kill("SIGTERM");
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
  if (opts.buckets?.length) {
    const { CreateBucketCommand } = await import("@aws-sdk/client-s3");
    const c = handle.client();
    for (const b of opts.buckets) await c.send(new CreateBucketCommand({ Bucket: b }));
  }
  return handle;
}
