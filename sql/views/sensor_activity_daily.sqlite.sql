-- sensor_activity_daily (SQLite): sensor frames per UTC day and sensor kind.
--
-- SQLite stores created_at as UTC text (YYYY-MM-DD HH:MM:SS.ffffff), so date()
-- returns its UTC day as YYYY-MM-DD text. A frame counts once for each of its
-- kinds. A frame without kinds counts under a NULL kind, and a frame without
-- created_at under a NULL day. Keep the result in step with
-- sensor_activity_daily.postgresql.sql.
CREATE VIEW sensor_activity_daily AS
SELECT
    date(f.created_at) AS day,
    k.kind,
    COUNT(*) AS frame_count,
    COUNT(DISTINCT f.job_id) AS job_count
FROM sensor_frames AS f
LEFT JOIN sensor_frame_kinds AS k
    ON k.job_id = f.job_id
    AND k.frame_id = f.frame_id
GROUP BY date(f.created_at), k.kind;
