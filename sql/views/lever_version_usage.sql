-- lever_version_usage: one row per lever id and version that a sensor frame
-- used or that a job's lever_versions row names.
--
-- frame_job_count and frame_count count the distinct jobs and the sensor
-- frames whose sensor_frame_lever_versions rows name the version.
-- current_job_count counts the jobs whose lever_versions row (the lever's
-- version in the job's latest payload) names it. A NULL version is a version
-- of its own, so the joins match NULL to NULL.
CREATE VIEW lever_version_usage AS
WITH frame_usage AS (
    SELECT
        lever_id,
        version,
        COUNT(DISTINCT job_id) AS job_count,
        COUNT(*) AS frame_count
    FROM sensor_frame_lever_versions
    GROUP BY lever_id, version
),
current_usage AS (
    SELECT lever_id, version, COUNT(*) AS job_count
    FROM lever_versions
    GROUP BY lever_id, version
),
used_versions AS (
    SELECT lever_id, version FROM frame_usage
    UNION
    SELECT lever_id, version FROM current_usage
)
SELECT
    u.lever_id,
    u.version,
    COALESCE(f.job_count, 0) AS frame_job_count,
    COALESCE(f.frame_count, 0) AS frame_count,
    COALESCE(c.job_count, 0) AS current_job_count
FROM used_versions AS u
LEFT JOIN frame_usage AS f
    ON f.lever_id = u.lever_id
    AND (f.version = u.version OR (f.version IS NULL AND u.version IS NULL))
LEFT JOIN current_usage AS c
    ON c.lever_id = u.lever_id
    AND (c.version = u.version OR (c.version IS NULL AND u.version IS NULL));
