-- worker-partition: the journal's and the processed jobs' JSON texts are stored compressed with
-- lz4 where the server has it (PostgreSQL 14+ built with lz4, as Debian's and the official
-- images are). Runs on PostgreSQL 15 and PGlite (18).
--
-- Migration 0202 stored them uncompressed (STORAGE EXTERNAL) because pglz, the default method,
-- cost more CPU than the bytes it saved. lz4 is several times cheaper: a batch of 250,000 events
-- writes ~12 MB instead of ~100 MB of TOAST (and as much less WAL), and its journal insert took
-- ~35 % less time here (docs/worker-partition.md, "Stop 10").
--
-- Values already stored keep their form; new ones are compressed. Where lz4 is not available
-- (PGlite: "compression method lz4 not supported", SQLSTATE 0A000) the columns stay as 0202 left
-- them. The texts read back are identical either way: compression is the server's storage detail.
DO $$
BEGIN
  ALTER TABLE worker_event_journal ALTER COLUMN events SET COMPRESSION lz4;
  ALTER TABLE worker_event_journal ALTER COLUMN events SET STORAGE EXTENDED;
  ALTER TABLE worker_processed_job_chunks ALTER COLUMN jobs SET COMPRESSION lz4;
  ALTER TABLE worker_processed_job_chunks ALTER COLUMN jobs SET STORAGE EXTENDED;
  ALTER TABLE worker_processed_job_chunks ALTER COLUMN perf SET COMPRESSION lz4;
  ALTER TABLE worker_processed_job_chunks ALTER COLUMN perf SET STORAGE EXTENDED;
EXCEPTION WHEN feature_not_supported THEN
  NULL;
END
$$;
