-- worker-partition: one durable row per event instead of two (issue 4, docs/worker-partition.md "Stop 8").
-- Runs on PostgreSQL 15 and PGlite (18).
--
-- Before: every event was a strata_journal row (jsonb payload, primary key, unique natural key,
-- entity index) AND, for a job, a worker_processed_jobs row (16 columns, 2 indexes).
-- Now:
--   worker_event_ids      one narrow row per event: its ID (the dedupe-by-ID record, forever) and
--                         where it is journaled (partition, seq). One index.
--   worker_event_journal  the raw events, one row per run of consecutive seqs of a partition (a
--                         JSON array of the validated events, seq first_seq..last_seq in order).
--   worker_processed_job_chunks  the processed jobs written by one save of the partition actor,
--                         one row per write set (JSON, one array per column); the view
--                         worker_processed_jobs shows one row per job, as the table it replaces.
-- The seqs stay gapless per partition, numbered under strata_journal_head (kind 'worker-partition').

CREATE TABLE worker_event_ids (
  event_id  text COLLATE "C" PRIMARY KEY,
  partition integer NOT NULL CHECK (partition >= 0),
  seq       bigint  NOT NULL CHECK (seq > 0)
);

CREATE TABLE worker_event_journal (
  partition   integer     NOT NULL CHECK (partition >= 0),
  first_seq   bigint      NOT NULL CHECK (first_seq > 0),
  last_seq    bigint      NOT NULL,
  -- JSON array of the events with seqs first_seq..last_seq, in seq order (text: never parsed by
  -- the server; stored uncompressed, compressing costs more CPU than the bytes it saves here).
  events      text        NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (partition, first_seq),
  -- At most 1,000 events per row: a reader finds the row holding seq s among first_seq in
  -- (s − 1000, s] through the primary key, whatever the journal's length.
  CHECK (last_seq >= first_seq AND last_seq - first_seq < 1000)
);
ALTER TABLE worker_event_journal ALTER COLUMN events SET STORAGE EXTERNAL;

-- The events journaled so far (generic journal, one row each) move over, one journal row each.
INSERT INTO worker_event_ids (event_id, partition, seq)
SELECT natural_key, partition, seq FROM strata_journal WHERE kind = 'worker-partition';
INSERT INTO worker_event_journal (partition, first_seq, last_seq, events, recorded_at)
SELECT partition, seq, seq, '[' || payload::text || ']', recorded_at FROM strata_journal WHERE kind = 'worker-partition';
DELETE FROM strata_journal WHERE kind = 'worker-partition';

-- `jobs` holds one JSON array per column (element i of each is job i): {"event_id": [...],
-- "eth_address", "request_id", "model_id", "pipeline", "dt_ms" (epoch ms), "compute_units",
-- "price_per_compute_unit", "fees" (decimal strings), "response_time_ms", "response_time_raw",
-- "real_time_ratio", "attributed", "reason"}. `through_offset` is the actor's journal offset
-- after the apply that produced them: a write set saved again meets its own key and is skipped.
-- `perf` holds what the performance recompute reads: the attributed jobs' inputs grouped as the
-- report ranks them (a transcode worker; an AI worker × model × pipeline), one JSON array per
-- group: [eth_address, model, pipeline ('' for transcode; unknown_model / unknown_pipeline when
-- missing), fees summed, [real_time_ratio…] (transcode), [response_time_ms…], [compute_units…]].
-- Transcode jobs without a real-time ratio are not ranked and not listed.
CREATE TABLE worker_processed_job_chunks (
  partition_id   text    NOT NULL,
  through_offset bigint  NOT NULL CHECK (through_offset >= 0),
  job_count      integer NOT NULL,
  jobs           text    NOT NULL,
  perf           text    NOT NULL,
  PRIMARY KEY (partition_id, through_offset)
);
ALTER TABLE worker_processed_job_chunks ALTER COLUMN jobs SET STORAGE EXTERNAL;
ALTER TABLE worker_processed_job_chunks ALTER COLUMN perf SET STORAGE EXTERNAL;

INSERT INTO worker_processed_job_chunks (partition_id, through_offset, job_count, jobs, perf)
SELECT partition_id, 0, count(*),
       jsonb_build_object(
         'event_id', jsonb_agg(event_id ORDER BY event_id),
         'eth_address', jsonb_agg(eth_address ORDER BY event_id),
         'request_id', jsonb_agg(request_id ORDER BY event_id),
         'model_id', jsonb_agg(model_id ORDER BY event_id),
         'pipeline', jsonb_agg(pipeline ORDER BY event_id),
         'dt_ms', jsonb_agg((extract(epoch FROM dt) * 1000)::bigint ORDER BY event_id),
         'compute_units', jsonb_agg(compute_units ORDER BY event_id),
         'price_per_compute_unit', jsonb_agg(price_per_compute_unit::text ORDER BY event_id),
         'fees', jsonb_agg(fees::text ORDER BY event_id),
         'response_time_ms', jsonb_agg(response_time_ms ORDER BY event_id),
         'response_time_raw', jsonb_agg(response_time_raw ORDER BY event_id),
         'real_time_ratio', jsonb_agg(real_time_ratio ORDER BY event_id),
         'attributed', jsonb_agg(attributed ORDER BY event_id),
         'reason', jsonb_agg(reason ORDER BY event_id))::text,
       '[]'
FROM worker_processed_jobs GROUP BY partition_id;
UPDATE worker_processed_job_chunks c SET perf = coalesce((
  SELECT jsonb_agg(jsonb_build_array(g.eth_address, g.model, g.pipeline, g.fees::text, g.r, g.t, g.c) ORDER BY g.eth_address, g.model, g.pipeline)::text
  FROM (SELECT j.eth_address,
               CASE WHEN j.node_type = 'ai' THEN coalesce(nullif(j.model_id, ''), 'unknown_model') ELSE '' END AS model,
               CASE WHEN j.node_type = 'ai' THEN coalesce(nullif(j.pipeline, ''), 'unknown_pipeline') ELSE '' END AS pipeline,
               sum(j.fees) AS fees,
               CASE WHEN j.node_type = 'ai' THEN '[]'::jsonb ELSE jsonb_agg(j.real_time_ratio ORDER BY j.event_id) END AS r,
               jsonb_agg(j.response_time_ms ORDER BY j.event_id) AS t,
               jsonb_agg(j.compute_units ORDER BY j.event_id) AS c
        FROM worker_processed_jobs j
        WHERE j.partition_id = c.partition_id AND j.attributed AND (j.node_type = 'ai' OR j.real_time_ratio IS NOT NULL)
        GROUP BY 1, 2, 3, j.node_type) g), '[]');
DROP TABLE worker_processed_jobs;

-- One row per job, the columns of the table it replaces (replay compares this view).
CREATE VIEW worker_processed_jobs AS
SELECT e.event_id,
       c.partition_id,
       e.eth_address,
       split_part(c.partition_id, '|', 1)                           AS node_type,
       e.request_id,
       e.model_id,
       e.pipeline,
       timestamptz 'epoch' + e.dt_ms::bigint * interval '1 millisecond' AS dt,
       e.compute_units::bigint                                      AS compute_units,
       e.price_per_compute_unit::numeric(78,0)                      AS price_per_compute_unit,
       e.fees::numeric(78,0)                                        AS fees,
       e.response_time_ms::double precision                         AS response_time_ms,
       e.response_time_raw::bigint                                  AS response_time_raw,
       e.real_time_ratio::double precision                          AS real_time_ratio,
       e.attributed::boolean                                        AS attributed,
       e.reason
FROM worker_processed_job_chunks c
CROSS JOIN LATERAL (SELECT c.jobs::jsonb AS j OFFSET 0) AS d  -- OFFSET 0: parse the text once, not once per column
CROSS JOIN LATERAL ROWS FROM (
  jsonb_array_elements_text(d.j -> 'event_id'),
  jsonb_array_elements_text(d.j -> 'eth_address'),
  jsonb_array_elements_text(d.j -> 'request_id'),
  jsonb_array_elements_text(d.j -> 'model_id'),
  jsonb_array_elements_text(d.j -> 'pipeline'),
  jsonb_array_elements_text(d.j -> 'dt_ms'),
  jsonb_array_elements_text(d.j -> 'compute_units'),
  jsonb_array_elements_text(d.j -> 'price_per_compute_unit'),
  jsonb_array_elements_text(d.j -> 'fees'),
  jsonb_array_elements_text(d.j -> 'response_time_ms'),
  jsonb_array_elements_text(d.j -> 'response_time_raw'),
  jsonb_array_elements_text(d.j -> 'real_time_ratio'),
  jsonb_array_elements_text(d.j -> 'attributed'),
  jsonb_array_elements_text(d.j -> 'reason')
) AS e(event_id, eth_address, request_id, model_id, pipeline, dt_ms, compute_units, price_per_compute_unit, fees,
       response_time_ms, response_time_raw, real_time_ratio, attributed, reason);
