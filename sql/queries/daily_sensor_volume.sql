-- How many sensor frames of each kind arrived per UTC day?
--
-- One row per day and sensor kind, oldest day first. Frames without
-- created_at are left out, and frames without kinds come last in their day
-- with a NULL kind. The CASE puts NULL last on both databases, because SQLite
-- sorts NULL first and PostgreSQL last. Runs on SQLite and PostgreSQL; the
-- day is YYYY-MM-DD text on SQLite and a date on PostgreSQL.
SELECT
    day,
    kind,
    frame_count,
    job_count
FROM sensor_activity_daily
WHERE day IS NOT NULL
ORDER BY day, CASE WHEN kind IS NULL THEN 1 ELSE 0 END, kind;
