-- worker-partition (OpenPool workers, one actor per `node_type|region`): derived tables written
-- by the partition actor in the runtime's transaction. Raw events live in the generic
-- strata_journal (kind 'worker-partition', natural key = the event's ID: deduped forever).
-- Amounts are wei in numeric(78,0); times are event times. Runs on PostgreSQL 15 and PGlite (18).

-- One row per partition: the journal offset applied and partition-level counters.
CREATE TABLE IF NOT EXISTS worker_partition_state (
  partition_id      text PRIMARY KEY,
  journal_offset    bigint NOT NULL DEFAULT 0 CHECK (journal_offset >= 0),
  events_applied    bigint NOT NULL DEFAULT 0,
  watermark         timestamptz,
  commission_bps    integer NOT NULL CHECK (commission_bps BETWEEN 0 AND 10000),
  unattributed_jobs bigint NOT NULL DEFAULT 0,
  unattributed_fees numeric(78,0) NOT NULL DEFAULT 0,
  expired_received  bigint NOT NULL DEFAULT 0,
  updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Cumulative fees per worker (total, pool commission, worker earnings).
CREATE TABLE IF NOT EXISTS worker_fees (
  partition_id    text NOT NULL,
  eth_address     text NOT NULL,
  total_fees      numeric(78,0) NOT NULL CHECK (total_fees >= 0),
  pool_commission numeric(78,0) NOT NULL CHECK (pool_commission >= 0),
  worker_earnings numeric(78,0) NOT NULL CHECK (worker_earnings >= 0),
  job_count       bigint NOT NULL DEFAULT 0,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (partition_id, eth_address)
);

-- What each worker has earned (after commission): the payments engineer computes
-- unpaid = earned − paid − in flight from this table. Written with worker_fees, same transaction.
CREATE TABLE IF NOT EXISTS worker_fee_ledger (
  partition_id text NOT NULL,
  eth_address  text NOT NULL,
  earned_wei   numeric(78,0) NOT NULL CHECK (earned_wei >= 0),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (partition_id, eth_address)
);

-- Connections per worker; disconnected workers are kept (inactive) with last_seen from event time.
CREATE TABLE IF NOT EXISTS worker_connections (
  partition_id text NOT NULL,
  eth_address  text NOT NULL,
  connections  jsonb NOT NULL DEFAULT '[]'::jsonb,
  is_active    boolean NOT NULL,
  last_seen    timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (partition_id, eth_address)
);

-- AI correlation entries waiting for their pair (bounded by the TTL): side 'received' holds the
-- worker of a job-received, side 'processed' a job-processed waiting for its job-received.
CREATE TABLE IF NOT EXISTS worker_ai_correlation (
  partition_id text NOT NULL,
  request_id   text NOT NULL,
  side         text NOT NULL CHECK (side IN ('received', 'processed')),
  at           timestamptz NOT NULL,
  body         jsonb NOT NULL,
  PRIMARY KEY (partition_id, request_id, side)
);

-- Every processed job, attributed to a worker or not (reason: ttl, superseded, zero-address).
-- Performance analytics are computed exactly over the attributed rows.
CREATE TABLE IF NOT EXISTS worker_processed_jobs (
  event_id               text PRIMARY KEY,
  partition_id           text NOT NULL,
  eth_address            text,
  node_type              text NOT NULL,
  request_id             text,
  model_id               text,
  pipeline               text,
  dt                     timestamptz NOT NULL,
  compute_units          bigint NOT NULL,
  price_per_compute_unit numeric(78,0) NOT NULL,
  fees                   numeric(78,0) NOT NULL,
  response_time_ms       double precision NOT NULL,
  response_time_raw      bigint NOT NULL,
  real_time_ratio        double precision,
  attributed             boolean NOT NULL,
  reason                 text
);
CREATE INDEX IF NOT EXISTS worker_processed_jobs_partition ON worker_processed_jobs (partition_id, attributed, eth_address);

-- Performance rankings: category 'transcode' (model_pipeline '') or 'ai' (per model | pipeline).
CREATE TABLE IF NOT EXISTS worker_performance (
  partition_id   text NOT NULL,
  category       text NOT NULL CHECK (category IN ('transcode', 'ai')),
  model_pipeline text NOT NULL,
  eth_address    text NOT NULL,
  rank           integer NOT NULL,
  percentile     double precision NOT NULL,
  job_count      bigint NOT NULL,
  metrics        jsonb NOT NULL,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (partition_id, category, model_pipeline, eth_address)
);

-- The partition summary as exported to worker_summary.json (aggregates from the final merged state).
CREATE TABLE IF NOT EXISTS worker_summary (
  partition_id text PRIMARY KEY,
  summary      jsonb NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now()
);
