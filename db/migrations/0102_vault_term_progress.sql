-- vault-term actors (issue 3, deliverable 4): how far each term's single writer has applied the
-- journal. `vault_term_journaled.events` counts the term's events committed to the event tables
-- (bumped in the journal transaction, which returns the new count); `vault_term_applied.events`
-- counts the events the term actor has applied, written in the same transaction as the term's
-- derived rows. applied < journaled after a crash between the two commits: the actor (on its
-- next message, or the catch-up sweep) rebuilds the term from the event tables.
-- Both rows are rewritten once per batch / group commit: free room on each page lets PostgreSQL
-- update them in place (HOT, no new index entry).
CREATE TABLE vault_term_journaled (
  term_id TEXT PRIMARY KEY,
  events BIGINT NOT NULL
) WITH (fillfactor = 50);

CREATE TABLE vault_term_applied (
  term_id TEXT PRIMARY KEY,
  events BIGINT NOT NULL
) WITH (fillfactor = 50);

-- The term actors rewrite vault and term rows at every group commit that changes them.
ALTER TABLE vault SET (fillfactor = 70);
ALTER TABLE term SET (fillfactor = 70);

-- Existing data (applied by the earlier direct path): journaled = applied = the term's events.
INSERT INTO vault_term_journaled (term_id, events)
SELECT term_id, count(*) FROM (
  SELECT term_id FROM atom_created_events
  UNION ALL SELECT term_id FROM triple_created_events
  UNION ALL SELECT counter_term_id FROM triple_created_events
  UNION ALL SELECT term_id FROM deposited_events
  UNION ALL SELECT term_id FROM redeemed_events
  UNION ALL SELECT term_id FROM share_price_changed_events
) AS e GROUP BY term_id;

INSERT INTO vault_term_applied (term_id, events) SELECT term_id, events FROM vault_term_journaled;
