/**
 * Health probes, one per dependency a host uses (admin `/health`): a real round trip each time,
 * with a deadline, reported as a DependencyHealth {name, ok, detail, latencyMs}.
 *   postgres / pglite  `SELECT 1`
 *   nats               flush (a PING/PONG with the server); the in-process transport: flush
 *   redis              PING
 *   s3                 ListBuckets
 *   eth-rpc            eth_chainId
 * A probe never throws: a failure or a timeout is `ok: false` with the reason.
 */
import { ListBucketsCommand, S3Client } from "@aws-sdk/client-s3";
import { Redis } from "ioredis";
import type { DependencyHealth } from "../admin/source.ts";
import type { Db } from "../db/db.ts";
import type { Transport } from "./transport/transport.ts";
import { createRpcClient } from "../actors/worker-partition/payments/rpc-client.ts";

export type { DependencyHealth } from "../admin/source.ts";

export interface DependencyProbe {
  readonly name: string;
  check(): Promise<DependencyHealth>;
  /** Releases what the probe holds (a Redis connection, an S3 client). */
  close?(): Promise<void>;
}

export const PROBE_TIMEOUT_MS = 3000;

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Runs `fn` with a deadline; ok with `detail` when it resolves, not ok with the reason otherwise. */
export async function timedProbe(name: string, detail: string, fn: () => Promise<unknown>, timeoutMs = PROBE_TIMEOUT_MS): Promise<DependencyHealth> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { name, ok: true, detail, latencyMs: Math.round((performance.now() - started) * 100) / 100 };
  } catch (err) {
    return { name, ok: false, detail: `${detail}: ${errorText(err)}`, latencyMs: Math.round((performance.now() - started) * 100) / 100 };
  } finally {
    clearTimeout(timer);
  }
}

/** `postgres` (server) or `pglite` (embedded): SELECT 1. */
export function dbProbe(db: Db, detail: string): DependencyProbe {
  const name = db.dialect === "pglite" ? "pglite" : "postgres";
  return {
    name,
    check: () =>
      timedProbe(name, detail, async () => {
        const res = await db.query<{ one: number }>("SELECT 1 AS one");
        if (Number(res.rows[0]?.one) !== 1) throw new Error("SELECT 1 did not return 1");
      }),
  };
}

/** `nats` or `transport` (in-process): a flush round trip. */
export function transportProbe(transport: Transport, name: string, detail: string): DependencyProbe {
  return { name, check: () => timedProbe(name, detail, () => transport.flush()) };
}

/** `redis`: PING on a connection of the probe's own (opened on first check, reopened after a failure). */
export function redisProbe(url: string, detail: string): DependencyProbe {
  let client: Redis | null = null;
  let lastError: string | null = null;
  const open = (): Redis => {
    const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: PROBE_TIMEOUT_MS, retryStrategy: () => null });
    // Connection errors are reported by the check, not as unhandled 'error' events.
    c.on("error", (err: Error) => {
      lastError = err.message;
    });
    return c;
  };
  return {
    name: "redis",
    check: () =>
      timedProbe("redis", detail, async () => {
        if (client && (client.status === "end" || client.status === "close")) {
          client.disconnect();
          client = null;
        }
        const c = (client ??= open());
        lastError = null;
        try {
          if (c.status === "wait") await c.connect();
          const pong = await c.ping();
          if (pong !== "PONG") throw new Error(`PING answered ${pong}`);
        } catch (err) {
          throw new Error(lastError ?? (err instanceof Error ? err.message : String(err)));
        }
      }),
    async close() {
      const c = client;
      client = null;
      if (c) await c.quit().catch(() => c.disconnect());
    },
  };
}

export interface S3ProbeTarget {
  endpoint: string;
  region: string;
  accessKeyId?: string;
  secretAccessKey?: string;
}

/** `s3`: ListBuckets against the endpoint. */
export function s3Probe(target: S3ProbeTarget, detail: string): DependencyProbe {
  const client = new S3Client({
    endpoint: target.endpoint,
    region: target.region,
    forcePathStyle: true,
    credentials: target.accessKeyId && target.secretAccessKey ? { accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey } : undefined,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 1,
  });
  return {
    name: "s3",
    check: () => timedProbe("s3", detail, () => client.send(new ListBucketsCommand({}))),
    async close() {
      client.destroy();
    },
  };
}

/** `eth-rpc`: eth_chainId; when `expectChainId` is given a different chain is not ok. */
export function ethProbe(url: string, detail: string, expectChainId?: number): DependencyProbe {
  const rpc = createRpcClient(url, { timeoutMs: PROBE_TIMEOUT_MS });
  return {
    name: "eth-rpc",
    check: () =>
      timedProbe("eth-rpc", detail, async () => {
        const chainId = await rpc.chainId();
        if (expectChainId !== undefined && chainId !== String(expectChainId)) throw new Error(`chain id ${chainId}, expected ${expectChainId}`);
      }),
  };
}

/** Every probe, concurrently, in the given order. */
export function checkAll(probes: readonly DependencyProbe[]): Promise<DependencyHealth[]> {
  return Promise.all(probes.map((p) => p.check()));
}
