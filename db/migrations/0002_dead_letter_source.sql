-- recordNewDeadLetters (db/dead-letter-store.ts) looks up the (kind, source) pairs of a batch's bad
-- records before keeping them, so a batch delivered again keeps one copy. Without this index that
-- lookup scanned every dead letter of the kind. md5(source): a source (an S3 key with a record
-- number, a file path with a line) may be longer than a btree entry allows.
CREATE INDEX IF NOT EXISTS strata_dead_letter_source ON strata_dead_letter (kind, md5(source));
