-- Payments (issue 5), fourth step: one chain per database, claimed by its first payment.
-- Runs on PostgreSQL 15 and PGlite (18).
--
-- A run's read-only check (every WAL entry on CHAIN_ID, payment-store.ts foreignChainProblem)
-- passes on an empty WAL for any chain: two hosts sharing one database with different CHAIN_IDs
-- could both pass it and both pay, each counting the other's payments as paid on its own chain.
-- The WAL write now claims the chain (inserts this one row when absent, in its transaction) and
-- refuses a payment of any other chain; the unique key settles two first writers racing.

CREATE TABLE IF NOT EXISTS payment_chain (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  chain_id bigint NOT NULL,
  claimed_at timestamptz NOT NULL DEFAULT now()
);

-- A database that already paid on exactly one chain is claimed for it. One holding payments of
-- several chains stays unclaimed: its runs are refused by the read-only check until a person
-- decides (a fresh database, or CHAIN_ID set to the chain of its payments).
INSERT INTO payment_chain (chain_id)
  SELECT min(chain_id) FROM payment_wal HAVING count(DISTINCT chain_id) = 1
  ON CONFLICT DO NOTHING;
