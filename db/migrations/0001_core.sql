-- Core runtime tables (db engineer, 0001–0099). Runs on PostgreSQL 15 and PGlite (PostgreSQL 18).
-- docs/storage.md describes every table and the rule it implements.

-- The generic append-only journal (DESIGN.md spine rule 1) for kinds whose source is not itself a
-- durable database. `seq` is gapless and ascending per (kind, partition) and commits in seq order:
-- an append locks the partition's head row (strata_journal_head) until its transaction ends.
CREATE TABLE strata_journal (
  kind         text        NOT NULL,
  partition    integer     NOT NULL CHECK (partition >= 0),
  seq          bigint      NOT NULL CHECK (seq > 0),
  natural_key  text        NOT NULL,
  entity_id    text        NOT NULL,
  event_type   text        NOT NULL,
  payload      jsonb       NOT NULL,
  block_number bigint,
  block_hash   text,
  recorded_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kind, partition, seq),
  CONSTRAINT strata_journal_natural_key UNIQUE (kind, natural_key)
);
CREATE INDEX strata_journal_entity ON strata_journal (kind, entity_id, partition, seq);
-- Reorg handling (a later issue) finds the events at or after a fork block.
CREATE INDEX strata_journal_block ON strata_journal (kind, block_number) WHERE block_number IS NOT NULL;

-- One row per (kind, partition): the last seq handed out. Locked by every append to the partition.
CREATE TABLE strata_journal_head (
  kind       text        NOT NULL,
  partition  integer     NOT NULL CHECK (partition >= 0),
  last_seq   bigint      NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kind, partition)
);

-- How far each actor has applied its journal, written in the same transaction as its state.
CREATE TABLE strata_actor_offset (
  kind       text        NOT NULL,
  entity_id  text        NOT NULL,
  "offset"   bigint      NOT NULL CHECK ("offset" >= 0),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kind, entity_id)
);

-- Source cursors, two-phase (DESIGN.md spine rule 2): a key (S3 object key, Redis stream id, …)
-- is `pending` with the batch that claimed it, and `confirmed` only once the work it covers committed.
CREATE TABLE strata_source_cursor (
  source       text        NOT NULL,
  key          text        NOT NULL,
  state        text        NOT NULL CHECK (state IN ('pending', 'confirmed')),
  batch_id     text,
  attempts     integer     NOT NULL DEFAULT 0,
  claimed_at   timestamptz NOT NULL DEFAULT now(),
  confirmed_at timestamptz,
  PRIMARY KEY (source, key),
  CHECK ((state = 'confirmed') = (confirmed_at IS NOT NULL))
);
CREATE INDEX strata_source_cursor_pending ON strata_source_cursor (source, claimed_at, key) WHERE state = 'pending';

-- Input that could not be processed, kept with its error (DESIGN.md spine rule 6).
CREATE TABLE strata_dead_letter (
  id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind        text        NOT NULL,
  entity_id   text,
  source      text        NOT NULL,
  payload     jsonb,
  error       text        NOT NULL,
  error_code  text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  resolved_at timestamptz
);
CREATE INDEX strata_dead_letter_kind ON strata_dead_letter (kind, id);
CREATE INDEX strata_dead_letter_unresolved ON strata_dead_letter (kind, id) WHERE resolved_at IS NULL;
