-- Payments (issue 5), second step: the payment schedule and the S3 audit export cursor.
-- Runs on PostgreSQL 15 and PGlite (18).

-- The payment schedule (a durable timer per partition): the next tick's due time. A host claims a
-- tick by compare-and-set on next_due_at_ms, so each tick runs once across hosts; ticks missed
-- while every host was down run once on catch-up (never once per missed tick).
CREATE TABLE IF NOT EXISTS payment_schedule (
  partition_id text PRIMARY KEY,
  next_due_at_ms bigint NOT NULL,
  last_claimed_by text,
  last_claimed_at_ms bigint
);

-- How far the audit of each partition has been copied to S3 (an outbox cursor: advanced only
-- after the objects are stored; object keys are deterministic, so a repeat overwrites).
CREATE TABLE IF NOT EXISTS payment_audit_export (
  partition_id text PRIMARY KEY,
  last_id bigint NOT NULL
);
