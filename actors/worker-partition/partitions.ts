/**
 * The worker-partition entities: one per `node_type|region` combination that is active.
 * Defined once here (seed 003 defect 10): the S3 sensor, the actor and the event parser all
 * import this list. An event or a request for any other combination is rejected by name.
 */
import { InputError } from "../../protocols/errors.ts";

export const NODE_TYPES = ["ai", "transcode"] as const;
export const REGIONS = ["us-central", "us-west", "eu-central", "oceania"] as const;
export type NodeType = (typeof NODE_TYPES)[number];
export type Region = (typeof REGIONS)[number];

/** The 5 active partitions of the 8 possible (the seed's VALID_COMBINATIONS). */
export const ACTIVE_PARTITIONS = [
  "ai|us-central",
  "transcode|us-central",
  "transcode|us-west",
  "transcode|eu-central",
  "transcode|oceania",
] as const;
export type PartitionId = (typeof ACTIVE_PARTITIONS)[number];

export interface Partition {
  /** `{node_type}|{region}`: the actor's entity id. */
  readonly id: PartitionId;
  readonly nodeType: NodeType;
  readonly region: Region;
  /** S3 listing prefix of the source files: `{region}/{node_type}/`. */
  readonly s3Prefix: string;
  /** File names of this partition start with `{region}-{node_type}-`. */
  readonly fileNamePrefix: string;
}

function describe(id: PartitionId): Partition {
  const [nodeType, region] = id.split("|") as [NodeType, Region];
  return { id, nodeType, region, s3Prefix: `${region}/${nodeType}/`, fileNamePrefix: `${region}-${nodeType}-` };
}

export const PARTITIONS: readonly Partition[] = ACTIVE_PARTITIONS.map(describe);

export function partitionKey(nodeType: string, region: string): string {
  return `${nodeType}|${region}`;
}

export function isActivePartition(id: string): id is PartitionId {
  return (ACTIVE_PARTITIONS as readonly string[]).includes(id);
}

/** The active partition with this id, or an InputError naming the id and the active ones. */
export function requirePartition(id: string): Partition {
  if (!isActivePartition(id)) {
    throw new InputError(`partition ${JSON.stringify(id)} is not active; active partitions: ${ACTIVE_PARTITIONS.join(", ")}`, {
      code: "wrong_partition",
    });
  }
  return describe(id);
}
