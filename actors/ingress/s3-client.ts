/**
 * One S3 client per process (seed 003 #13: not one per call), configured for S3-compatible
 * stores: path-style addressing and checksums only when required (MACHINE.md: otherwise stream
 * uploads are stored corrupted on s3rver).
 *
 * Every request has timeouts (the SDK sets none): a connection not established within
 * S3_CONNECTION_TIMEOUT_MS, or a socket silent for S3_SOCKET_TIMEOUT_MS (waiting for the answer or
 * within its body), fails with a TimeoutError (the SDK retries it, then the sensor's batch fails and
 * is retried at the next poll) — one hung connection must not stop ingest nor the host's shutdown.
 * (`requestTimeout` alone only logs a warning in @smithy/node-http-handler 4.x.)
 */
import { S3Client } from "@aws-sdk/client-s3";
import type { WorkerPartitionConfig } from "../worker-partition/config.ts";

/** Most time to establish a connection to the S3 endpoint, ms. */
export const S3_CONNECTION_TIMEOUT_MS = 10_000;
/** Most time a connection may stay silent during a request (answer or body), ms. */
export const S3_SOCKET_TIMEOUT_MS = 60_000;

export interface S3ClientTimeouts {
  connectionTimeoutMs?: number;
  socketTimeoutMs?: number;
}

export function createS3Client(s3: WorkerPartitionConfig["s3"], timeouts: S3ClientTimeouts = {}): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: s3.accessKeyId && s3.secretAccessKey ? { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } : undefined,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    requestHandler: {
      connectionTimeout: timeouts.connectionTimeoutMs ?? S3_CONNECTION_TIMEOUT_MS,
      socketTimeout: timeouts.socketTimeoutMs ?? S3_SOCKET_TIMEOUT_MS,
    },
  });
}
