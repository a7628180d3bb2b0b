-- worker-partition: the processed jobs' chunks in a smaller form (issue 4, docs/worker-partition.md
-- "Stop 11"). Runs on PostgreSQL 15 and PGlite (18).
--
-- worker_processed_job_chunks.jobs_format says how `jobs` is written:
--   1  as migration 0202 describes it: one JSON array per column, one element per job. Every row
--      stored before this migration (the default: a writer that does not name the column writes
--      format 1, and that is what it writes).
--   2  (store.ts storedJobs, since this migration) the same object with fewer bytes:
--      - eth_address, model_id, pipeline, price_per_compute_unit, attributed, reason: the chunk's
--        distinct values (JSON scalars, null included) under the column's name, each job's index
--        in them under `<column>_i`; `<column>_i` is absent when there is one value;
--      - request_id: absent when every job's is null;
--      - dt: epoch ms minus `dt0`;
--      - response_time_ms: absent when every job's is response_time_raw / `response_time_divisor`
--        (float8 division, exact as checked by the writer);
--      - real_time_ratio: distinct values under `real_time_ratio`, indexes under `real_time_ratio_i`
--        (absent when one); a value is null, the ratio (a number), or [d] for
--        d / response_time_raw (float8 division, exact as checked by the writer);
--      - event_id, compute_units, fees (decimal strings), response_time_raw: one element per job.
-- The view decodes both to the same rows, columns and types (CREATE OR REPLACE VIEW refuses a
-- change of either). A missing array gives NULL in ROWS FROM (functions that return fewer rows are
-- padded with NULLs), hence coalesce(index, 0) and coalesce(response_time_ms, derived).
ALTER TABLE worker_processed_job_chunks ADD COLUMN jobs_format smallint NOT NULL DEFAULT 1 CHECK (jobs_format IN (1, 2));

CREATE OR REPLACE VIEW worker_processed_jobs AS
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
       response_time_ms, response_time_raw, real_time_ratio, attributed, reason)
WHERE c.jobs_format = 1
UNION ALL
SELECT e.event_id,
       c.partition_id,
       d.j -> 'eth_address' ->> coalesce(e.eth_address_i::int, 0),
       split_part(c.partition_id, '|', 1),
       e.request_id,
       d.j -> 'model_id' ->> coalesce(e.model_id_i::int, 0),
       d.j -> 'pipeline' ->> coalesce(e.pipeline_i::int, 0),
       timestamptz 'epoch' + ((d.j ->> 'dt0')::bigint + e.dt::bigint) * interval '1 millisecond',
       e.compute_units::bigint,
       (d.j -> 'price_per_compute_unit' ->> coalesce(e.price_per_compute_unit_i::int, 0))::numeric(78,0),
       e.fees::numeric(78,0),
       coalesce(e.response_time_ms::double precision,
                e.response_time_raw::double precision / (d.j ->> 'response_time_divisor')::double precision),
       e.response_time_raw::bigint,
       CASE jsonb_typeof(r.v)
         WHEN 'array'  THEN (r.v ->> 0)::double precision / e.response_time_raw::double precision
         WHEN 'number' THEN (r.v #>> '{}')::double precision
       END,
       (d.j -> 'attributed' ->> coalesce(e.attributed_i::int, 0))::boolean,
       d.j -> 'reason' ->> coalesce(e.reason_i::int, 0)
FROM worker_processed_job_chunks c
CROSS JOIN LATERAL (SELECT c.jobs::jsonb AS j OFFSET 0) AS d
CROSS JOIN LATERAL ROWS FROM (
  jsonb_array_elements_text(d.j -> 'event_id'),
  jsonb_array_elements_text(d.j -> 'eth_address_i'),
  jsonb_array_elements_text(d.j -> 'request_id'),
  jsonb_array_elements_text(d.j -> 'model_id_i'),
  jsonb_array_elements_text(d.j -> 'pipeline_i'),
  jsonb_array_elements_text(d.j -> 'dt'),
  jsonb_array_elements_text(d.j -> 'compute_units'),
  jsonb_array_elements_text(d.j -> 'price_per_compute_unit_i'),
  jsonb_array_elements_text(d.j -> 'fees'),
  jsonb_array_elements_text(d.j -> 'response_time_ms'),
  jsonb_array_elements_text(d.j -> 'response_time_raw'),
  jsonb_array_elements_text(d.j -> 'real_time_ratio_i'),
  jsonb_array_elements_text(d.j -> 'attributed_i'),
  jsonb_array_elements_text(d.j -> 'reason_i')
) AS e(event_id, eth_address_i, request_id, model_id_i, pipeline_i, dt, compute_units, price_per_compute_unit_i, fees,
       response_time_ms, response_time_raw, real_time_ratio_i, attributed_i, reason_i)
CROSS JOIN LATERAL (SELECT d.j -> 'real_time_ratio' -> coalesce(e.real_time_ratio_i::int, 0) AS v) AS r
WHERE c.jobs_format = 2;
