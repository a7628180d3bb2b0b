/**
 * Embedded mode: puts the bundled sample event files (samples/worker-partition/, S3 layout
 * `{region}/{node_type}/*.json`) into a bucket of the local S3-compatible store, creating the
 * bucket if needed, so the S3 sensor has something real to ingest. Returns the keys written.
 */
import { readdir, readFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { CreateBucketCommand, HeadBucketCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { PARTITIONS } from "../worker-partition/partitions.ts";

export const SAMPLES_DIR = fileURLToPath(new URL("../../samples/worker-partition/", import.meta.url));

export async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
}

export async function uploadSampleEvents(s3: S3Client, bucket: string, dir: string = SAMPLES_DIR): Promise<string[]> {
  await ensureBucket(s3, bucket);
  const keys: string[] = [];
  for (const p of PARTITIONS) {
    const folder = join(dir, ...p.s3Prefix.split("/").filter(Boolean));
    let names: string[];
    try {
      names = (await readdir(folder)).filter((n) => n.endsWith(".json")).sort();
    } catch {
      continue;
    }
    for (const name of names) {
      const key = relative(dir, join(folder, name)).split(sep).join("/");
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, ContentType: "application/json", Body: await readFile(join(folder, name)) }));
      keys.push(key);
    }
  }
  return keys;
}
