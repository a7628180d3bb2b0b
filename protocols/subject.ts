/**
 * Subject grammar: `strata.<kind>.<partition>.<entityId>.<verb>`.
 *
 * kind      — entity kind (`operator`, `network`, `worker-partition`, `vault-term`) or `dlq`
 * partition — `p00`…: partitionOf(entityId) (see partition.ts)
 * entityId  — encodeToken(entityId) (see token.ts)
 * verb      — `notify` | `state` | `cmd.<name>` | `evt.<name>` (may contain dots)
 */
import { encodeToken, decodeToken } from "./token.ts";
import { partitionOf, partitionToken, parsePartitionToken, DEFAULT_PARTITIONS } from "./partition.ts";

export const SUBJECT_ROOT = "strata";
const KIND = /^[a-z][a-z0-9-]*$/;
const VERB = /^(notify|state|(cmd|evt)\.[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*)$/;

export interface SubjectParts {
  kind: string;
  partition: number;
  entityId: string;
  verb: string;
}

export function entitySubject(kind: string, entityId: string, verb: string, partitions: number = DEFAULT_PARTITIONS): string {
  if (!KIND.test(kind)) throw new TypeError(`bad kind ${JSON.stringify(kind)}: expected lower-case letters, digits and '-'`);
  if (!VERB.test(verb)) throw new TypeError(`bad verb ${JSON.stringify(verb)}: expected notify, state, cmd.<name> or evt.<name>`);
  const p = partitionOf(entityId, partitions);
  return `${SUBJECT_ROOT}.${kind}.${partitionToken(p, partitions)}.${encodeToken(entityId)}.${verb}`;
}

/**
 * Parse an entity subject. With `partitions` given, the partition token must be the entity's
 * own partition (partitionOf(entityId, partitions)): a subject that names the wrong partition
 * would reach a host that does not own the entity, so it is refused.
 */
export function parseSubject(subject: string, partitions?: number): SubjectParts {
  const parts = subject.split(".");
  if (parts.length < 5 || parts[0] !== SUBJECT_ROOT) throw new TypeError(`not a strata entity subject: ${subject}`);
  const [, kind, partitionText, token, ...verb] = parts;
  const partition = parsePartitionToken(partitionText);
  const entityId = decodeToken(token);
  if (partitions !== undefined) {
    const expected = partitionOf(entityId, partitions);
    if (partition !== expected) {
      throw new TypeError(`subject ${subject} names partition ${partition} but entity ${JSON.stringify(entityId)} is in partition ${expected} of ${partitions}`);
    }
  }
  return { kind, partition, entityId, verb: verb.join(".") };
}

/** Wildcard for every subject of one kind in one partition (what an owning host subscribes to). */
export function partitionWildcard(kind: string, partition: number, partitions: number = DEFAULT_PARTITIONS): string {
  return `${SUBJECT_ROOT}.${kind}.${partitionToken(partition, partitions)}.>`;
}

export function kindWildcard(kind: string): string {
  return `${SUBJECT_ROOT}.${kind}.>`;
}

export function deadLetterSubject(kind: string): string {
  return `${SUBJECT_ROOT}.dlq.${kind}`;
}
