-- The version of a source key that was claimed and read: for the S3 sensor, the object's ETag.
-- A confirmed key listed again with another ETag was overwritten and is read again (the
-- journal's dedupe by event ID keeps the events already counted once). NULL: no version known
-- (confirmed before this migration, or an object that could not be read); the sensor records
-- the listed one the next time it sees the key.
ALTER TABLE strata_source_cursor ADD COLUMN etag text;
