/**
 * One S3 client per process (seed 003 #13: not one per call), configured for S3-compatible
 * stores: path-style addressing and checksums only when required (MACHINE.md: otherwise stream
 * uploads are stored corrupted on s3rver).
 */
import { S3Client } from "@aws-sdk/client-s3";
import type { WorkerPartitionConfig } from "../worker-partition/config.ts";

export function createS3Client(s3: WorkerPartitionConfig["s3"]): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: s3.accessKeyId && s3.secretAccessKey ? { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } : undefined,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}
