-- sensor_activity_daily (PostgreSQL): sensor frames per UTC day and sensor kind.
--
-- AT TIME ZONE 'UTC' turns the timestamptz into UTC wall time before the cast
-- to date, so the day does not depend on the session's TimeZone setting.
-- A frame counts once for each of its kinds. A frame without kinds counts
-- under a NULL kind, and a frame without created_at under a NULL day. Keep the
-- result in step with sensor_activity_daily.sqlite.sql.
CREATE VIEW sensor_activity_daily AS
SELECT
    CAST(f.created_at AT TIME ZONE 'UTC' AS date) AS day,
    k.kind,
    COUNT(*) AS frame_count,
    COUNT(DISTINCT f.job_id) AS job_count
FROM sensor_frames AS f
LEFT JOIN sensor_frame_kinds AS k
    ON k.job_id = f.job_id
    AND k.frame_id = f.frame_id
GROUP BY CAST(f.created_at AT TIME ZONE 'UTC' AS date), k.kind;
