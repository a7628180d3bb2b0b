-- vault-term, after 0100 (already recorded in some databases, so not edited):
-- term_update_queue gets `version`: a re-queued term bumps it; analytics read (term, version)
-- without locking, recompute, then delete the row only if the version is unchanged, so ingest
-- never waits for a long analytics transaction.
-- Indexes no query uses are dropped (each costs a write per event): replay reads whole tables,
-- and position lookups go by primary key or by position_active_idx.
ALTER TABLE term_update_queue ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
DROP INDEX IF EXISTS deposited_events_term_idx;
DROP INDEX IF EXISTS redeemed_events_term_idx;
DROP INDEX IF EXISTS share_price_changed_events_term_idx;
DROP INDEX IF EXISTS position_term_curve_idx;
