-- worker-partition: the history of the parameters each partition's events were applied with
-- (actors/worker-partition/partition-params.ts). Live, an actor applies new events with the
-- configuration it runs with (POOL_COMMISSION_RATE as basis points, AI_CORRELATION_TTL_SECONDS as
-- ms) and, when that differs from the latest row, records a row in the same transaction as the
-- events' derived rows: the events with seq > from_offset, up to the next row, were applied with
-- these values. `strata replay --kind worker-partition` re-applies the journal with this history
-- instead of its own configuration, so a changed rate does not re-price the jobs already applied
-- (and the fee ledger the payments read does not move under what was paid).
--
-- Not a derived table: replay keeps it. Partitions that applied events before this migration
-- have no row for them; a replay applies those with its configuration, as before.
CREATE TABLE worker_partition_params (
  partition_id       text        NOT NULL,
  from_offset        bigint      NOT NULL CHECK (from_offset >= 0),
  commission_bps     integer     NOT NULL CHECK (commission_bps BETWEEN 0 AND 10000),
  correlation_ttl_ms bigint      NOT NULL CHECK (correlation_ttl_ms >= 0),
  recorded_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (partition_id, from_offset)
);
