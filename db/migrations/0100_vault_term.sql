-- vault-term (Intuition MultiVault via rindexer): event tables (this kind's journal), the
-- derived tables written by the vault-term actors, the analytics tables written by the
-- triple-analytics actors, and the queue of terms whose analytics are pending.
-- Amounts are TEXT in event tables and NUMERIC(78,0) downstream. Valid on PostgreSQL 15 and PGlite.

CREATE TABLE atom_created_events (
  transaction_hash TEXT NOT NULL,
  log_index BIGINT NOT NULL,
  address TEXT NOT NULL,
  block_hash TEXT NOT NULL,
  block_number BIGINT NOT NULL,
  network TEXT NOT NULL,
  transaction_index BIGINT NOT NULL,
  block_timestamp TIMESTAMPTZ,
  atom_data TEXT,
  raw_data BYTEA,
  atom_wallet TEXT NOT NULL,
  creator TEXT NOT NULL,
  term_id TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (transaction_hash, log_index)
);

CREATE TABLE triple_created_events (
  transaction_hash TEXT NOT NULL,
  log_index BIGINT NOT NULL,
  address TEXT NOT NULL,
  block_hash TEXT NOT NULL,
  block_number BIGINT NOT NULL,
  network TEXT NOT NULL,
  transaction_index BIGINT NOT NULL,
  block_timestamp TIMESTAMPTZ,
  creator TEXT NOT NULL,
  object_id TEXT NOT NULL,
  predicate_id TEXT NOT NULL,
  subject_id TEXT NOT NULL,
  term_id TEXT NOT NULL,
  counter_term_id TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (transaction_hash, log_index)
);

CREATE TABLE deposited_events (
  transaction_hash TEXT NOT NULL,
  log_index BIGINT NOT NULL,
  address TEXT NOT NULL,
  block_hash TEXT NOT NULL,
  block_number BIGINT NOT NULL,
  network TEXT NOT NULL,
  transaction_index BIGINT NOT NULL,
  block_timestamp TIMESTAMPTZ,
  assets TEXT NOT NULL,
  assets_after_fees TEXT NOT NULL,
  curve_id TEXT NOT NULL,
  receiver TEXT NOT NULL,
  sender TEXT NOT NULL,
  shares TEXT NOT NULL,
  term_id TEXT NOT NULL,
  total_shares TEXT NOT NULL,
  vault_type SMALLINT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (transaction_hash, log_index)
);
CREATE INDEX deposited_events_term_idx ON deposited_events (term_id);

CREATE TABLE redeemed_events (
  transaction_hash TEXT NOT NULL,
  log_index BIGINT NOT NULL,
  address TEXT NOT NULL,
  block_hash TEXT NOT NULL,
  block_number BIGINT NOT NULL,
  network TEXT NOT NULL,
  transaction_index BIGINT NOT NULL,
  block_timestamp TIMESTAMPTZ,
  assets TEXT NOT NULL,
  curve_id TEXT NOT NULL,
  fees TEXT NOT NULL,
  receiver TEXT NOT NULL,
  sender TEXT NOT NULL,
  shares TEXT NOT NULL,
  term_id TEXT NOT NULL,
  total_shares TEXT NOT NULL,
  vault_type SMALLINT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (transaction_hash, log_index)
);
CREATE INDEX redeemed_events_term_idx ON redeemed_events (term_id);

CREATE TABLE share_price_changed_events (
  transaction_hash TEXT NOT NULL,
  log_index BIGINT NOT NULL,
  address TEXT NOT NULL,
  block_hash TEXT NOT NULL,
  block_number BIGINT NOT NULL,
  network TEXT NOT NULL,
  transaction_index BIGINT NOT NULL,
  block_timestamp TIMESTAMPTZ,
  term_id TEXT NOT NULL,
  curve_id TEXT NOT NULL,
  share_price TEXT NOT NULL,
  total_assets TEXT NOT NULL,
  total_shares TEXT NOT NULL,
  vault_type SMALLINT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (transaction_hash, log_index)
);
CREATE INDEX share_price_changed_events_term_idx ON share_price_changed_events (term_id);

CREATE TABLE generic_events (
  transaction_hash TEXT NOT NULL,
  log_index BIGINT NOT NULL,
  address TEXT NOT NULL,
  block_hash TEXT NOT NULL,
  block_number BIGINT NOT NULL,
  network TEXT NOT NULL,
  transaction_index BIGINT NOT NULL,
  block_timestamp TIMESTAMPTZ,
  event_name TEXT NOT NULL,
  event_data JSONB NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (transaction_hash, log_index)
);

CREATE TABLE atom (
  term_id TEXT PRIMARY KEY,
  wallet_id TEXT,
  creator_id TEXT,
  data TEXT,
  raw_data BYTEA,
  type TEXT,
  emoji TEXT,
  label TEXT,
  image TEXT,
  value_id TEXT,
  resolving_status TEXT NOT NULL DEFAULT 'Pending',
  last_event_block BIGINT,
  last_event_log_index BIGINT,
  created_at TIMESTAMPTZ,
  updated_at TIMESTAMPTZ
);

CREATE TABLE triple (
  term_id TEXT PRIMARY KEY,
  creator_id TEXT,
  subject_id TEXT NOT NULL,
  predicate_id TEXT NOT NULL,
  object_id TEXT NOT NULL,
  counter_term_id TEXT NOT NULL,
  last_event_block BIGINT,
  last_event_log_index BIGINT,
  created_at TIMESTAMPTZ,
  updated_at TIMESTAMPTZ
);
CREATE INDEX triple_counter_term_idx ON triple (counter_term_id);

CREATE TABLE position (
  account_id TEXT NOT NULL,
  term_id TEXT NOT NULL,
  curve_id TEXT NOT NULL,
  shares NUMERIC(78,0) NOT NULL DEFAULT 0,
  total_deposit_assets_after_total_fees NUMERIC(78,0) NOT NULL DEFAULT 0,
  total_redeem_assets_for_receiver NUMERIC(78,0) NOT NULL DEFAULT 0,
  last_deposit_block BIGINT,
  last_deposit_log_index BIGINT,
  last_redeem_block BIGINT,
  last_redeem_log_index BIGINT,
  last_shares_event_block BIGINT,
  last_shares_event_log_index BIGINT,
  created_at TIMESTAMPTZ,
  updated_at TIMESTAMPTZ,
  PRIMARY KEY (account_id, term_id, curve_id)
);
CREATE INDEX position_term_curve_idx ON position (term_id, curve_id);
CREATE INDEX position_active_idx ON position (term_id, curve_id) WHERE shares > 0;
CREATE INDEX position_large_idx ON position (account_id) WHERE shares > 1000000000000000000;

CREATE TABLE vault (
  term_id TEXT NOT NULL,
  curve_id TEXT NOT NULL,
  total_shares NUMERIC(78,0) NOT NULL DEFAULT 0,
  current_share_price NUMERIC(78,0) NOT NULL DEFAULT 0,
  total_assets NUMERIC(78,0) NOT NULL DEFAULT 0,
  market_cap NUMERIC(78,0) DEFAULT 0,
  position_count BIGINT NOT NULL DEFAULT 0,
  vault_type TEXT,
  last_price_event_block BIGINT NOT NULL DEFAULT 0,
  last_price_event_log_index BIGINT NOT NULL DEFAULT 0,
  created_at TIMESTAMPTZ,
  updated_at TIMESTAMPTZ,
  PRIMARY KEY (term_id, curve_id)
);

CREATE TABLE term (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  atom_id TEXT,
  triple_id TEXT,
  total_assets NUMERIC(78,0) NOT NULL DEFAULT 0,
  total_market_cap NUMERIC(78,0) DEFAULT 0,
  created_at TIMESTAMPTZ,
  updated_at TIMESTAMPTZ
);

CREATE TABLE triple_vault (
  term_id TEXT NOT NULL,
  counter_term_id TEXT NOT NULL,
  curve_id TEXT NOT NULL,
  total_shares NUMERIC(78,0) NOT NULL DEFAULT 0,
  total_assets NUMERIC(78,0) NOT NULL DEFAULT 0,
  position_count BIGINT NOT NULL DEFAULT 0,
  market_cap NUMERIC(78,0) NOT NULL DEFAULT 0,
  updated_at TIMESTAMPTZ,
  PRIMARY KEY (term_id, counter_term_id, curve_id)
);

CREATE TABLE triple_term (
  term_id TEXT NOT NULL,
  counter_term_id TEXT NOT NULL,
  total_assets NUMERIC(78,0) NOT NULL DEFAULT 0,
  total_market_cap NUMERIC(78,0) NOT NULL DEFAULT 0,
  total_position_count BIGINT NOT NULL DEFAULT 0,
  updated_at TIMESTAMPTZ,
  PRIMARY KEY (term_id, counter_term_id)
);

CREATE TABLE predicate_object (
  predicate_id TEXT NOT NULL,
  object_id TEXT NOT NULL,
  triple_count BIGINT NOT NULL DEFAULT 0,
  total_position_count BIGINT NOT NULL DEFAULT 0,
  total_market_cap NUMERIC(78,0) NOT NULL DEFAULT 0,
  updated_at TIMESTAMPTZ,
  PRIMARY KEY (predicate_id, object_id)
);

CREATE TABLE subject_predicate (
  subject_id TEXT NOT NULL,
  predicate_id TEXT NOT NULL,
  triple_count BIGINT NOT NULL DEFAULT 0,
  total_position_count BIGINT NOT NULL DEFAULT 0,
  total_market_cap NUMERIC(78,0) NOT NULL DEFAULT 0,
  updated_at TIMESTAMPTZ,
  PRIMARY KEY (subject_id, predicate_id)
);

-- Terms whose triple analytics are pending: at most one unprocessed row per term (decision 6).
-- Written in the same transaction as the term's aggregates; the analytics actor deletes the rows
-- it processed in the transaction that writes the analytics tables.
CREATE TABLE term_update_queue (
  id BIGSERIAL PRIMARY KEY,
  term_id TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  processed_at TIMESTAMPTZ,
  attempts INT NOT NULL DEFAULT 0,
  last_error TEXT,
  last_attempt_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX term_update_queue_pending_idx ON term_update_queue (term_id) WHERE processed_at IS NULL;
