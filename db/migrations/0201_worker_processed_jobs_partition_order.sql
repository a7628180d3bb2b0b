-- The performance recompute reads a partition's attributed jobs in event-ID order
-- (store.ts readPerfJobs: WHERE partition_id = $1 AND attributed ORDER BY event_id). The index
-- of 0200 ends in eth_address, which that query cannot use for its order, so the planner scanned
-- the primary key across every partition's jobs and filtered (5 active partitions: 5× the rows).
-- Same write cost: one index replaces the other (nothing queries by eth_address here).
DROP INDEX IF EXISTS worker_processed_jobs_partition;
CREATE INDEX IF NOT EXISTS worker_processed_jobs_partition_jobs ON worker_processed_jobs (partition_id, attributed, event_id);
