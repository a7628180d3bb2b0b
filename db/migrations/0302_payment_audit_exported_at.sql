-- Payments (issue 5), third step: the S3 audit export is tracked per row, not by a cursor.
-- Runs on PostgreSQL 15 and PGlite (18).
--
-- The cursor (payment_audit_export.last_id, "everything up to this id is in S3") skipped rows:
-- two writers of one partition (a run and an admin resolution) can commit audit ids out of
-- order, and a lower id committed after the cursor moved past it was never exported. Each row now
-- says itself whether it is in S3; the exporter copies every row without exported_at.

ALTER TABLE payment_audit ADD COLUMN IF NOT EXISTS exported_at timestamptz;

-- Carry the old cursor over: what it had passed was stored in S3. (A row it skipped cannot be
-- told apart from an exported one; such rows are the defect this migration ends.)
UPDATE payment_audit AS a SET exported_at = now()
  FROM payment_audit_export AS e
  WHERE a.partition_id = e.partition_id AND a.id <= e.last_id AND a.exported_at IS NULL;

-- The exporter's question, "what of this partition is not in S3 yet", answered from a small index.
CREATE INDEX IF NOT EXISTS payment_audit_unexported ON payment_audit (partition_id, id) WHERE exported_at IS NULL;

-- payment_audit_export (the old cursor) is no longer written or read by this version. It is kept,
-- not dropped, so a host of the previous version still running during a rolling upgrade does not
-- fail its export; a later migration can drop it.
