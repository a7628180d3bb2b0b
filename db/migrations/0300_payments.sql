-- Payments of worker partitions (issue 5): WAL, paid ledger, run lease, runs (machine snapshots), audit.
-- Amounts are wei in numeric(78,0). Runs on PostgreSQL 15 and PGlite (18).

-- One row per payment, written and COMMITTED (with the signed transaction and its hash) before
-- the transaction is broadcast. Open statuses: signed, broadcast. Closed: credited (mined, paid
-- ledger written in the same transaction), reverted (mined with status 0: worker blocked until
-- resolved), ambiguous (its nonce was used by another transaction: worker blocked until resolved),
-- resolved_paid / resolved_unpaid (a person decided).
CREATE TABLE IF NOT EXISTS payment_wal (
  payment_id text PRIMARY KEY,
  run_id text NOT NULL,
  partition_id text NOT NULL,
  eth_address text NOT NULL,
  amount_wei numeric(78,0) NOT NULL CHECK (amount_wei > 0),
  from_address text NOT NULL,
  chain_id bigint NOT NULL,
  nonce bigint NOT NULL,
  max_fee_per_gas numeric(78,0) NOT NULL,
  max_priority_fee_per_gas numeric(78,0) NOT NULL,
  gas_limit numeric(78,0) NOT NULL,
  raw_tx text NOT NULL,
  tx_hash text NOT NULL UNIQUE,
  status text NOT NULL CHECK (status IN ('signed', 'broadcast', 'credited', 'reverted', 'ambiguous', 'resolved_paid', 'resolved_unpaid')),
  block_number bigint,
  note text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- Two open payments of one payer never share a nonce (across partitions and hosts).
CREATE UNIQUE INDEX IF NOT EXISTS payment_wal_open_nonce ON payment_wal (from_address, chain_id, nonce) WHERE status IN ('signed', 'broadcast');
CREATE INDEX IF NOT EXISTS payment_wal_partition_status ON payment_wal (partition_id, status);

-- What has been paid: one row per credited payment (written with the WAL close, one transaction).
CREATE TABLE IF NOT EXISTS payment_ledger (
  payment_id text PRIMARY KEY REFERENCES payment_wal (payment_id),
  partition_id text NOT NULL,
  eth_address text NOT NULL,
  amount_wei numeric(78,0) NOT NULL CHECK (amount_wei > 0),
  tx_hash text NOT NULL,
  block_number bigint,
  credited_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS payment_ledger_worker ON payment_ledger (partition_id, lower(eth_address));

-- At most one payment run per partition, across hosts: a lease row taken by compare-and-set.
-- `version` increases on every acquisition and is the fencing token of the holder.
CREATE TABLE IF NOT EXISTS payment_run_lease (
  partition_id text PRIMARY KEY,
  owner text NOT NULL,
  run_id text,
  version bigint NOT NULL,
  expires_at_ms bigint NOT NULL
);

-- Payment runs and the persisted snapshot of their machine (resume in the right phase).
CREATE TABLE IF NOT EXISTS payment_runs (
  run_id text PRIMARY KEY,
  partition_id text NOT NULL,
  trigger text NOT NULL,
  status text NOT NULL CHECK (status IN ('running', 'done', 'stopped')),
  phase text NOT NULL,
  snapshot jsonb NOT NULL,
  stop_reason text,
  started_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS payment_runs_partition_status ON payment_runs (partition_id, status);

-- Every state change of every payment (and run decisions), append-only.
CREATE TABLE IF NOT EXISTS payment_audit (
  id bigserial PRIMARY KEY,
  partition_id text NOT NULL,
  run_id text,
  payment_id text,
  event text NOT NULL,
  from_status text,
  to_status text,
  detail jsonb NOT NULL DEFAULT '{}'::jsonb,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS payment_audit_payment ON payment_audit (payment_id, id);
