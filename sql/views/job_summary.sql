-- job_summary: one row per job, with its rewards, child-row counts and times.
--
-- first_generation and last_generation are the job's lowest and highest
-- generation in history. first_generation_reward and last_generation_reward
-- are those generations' best_reward, and improvement is last minus first.
-- The three rewards are NULL when the job has no history or when a reward
-- needed for them is NULL. The counts are 0 when the job has no such rows.
CREATE VIEW job_summary AS
WITH generations AS (
    SELECT
        job_id,
        MIN(generation) AS first_generation,
        MAX(generation) AS last_generation,
        COUNT(*) AS generation_count
    FROM history
    GROUP BY job_id
),
candidate_counts AS (
    SELECT job_id, COUNT(*) AS candidate_count
    FROM candidates
    GROUP BY job_id
),
lever_version_counts AS (
    SELECT job_id, COUNT(*) AS lever_version_count
    FROM lever_versions
    GROUP BY job_id
),
frame_stats AS (
    SELECT
        job_id,
        COUNT(*) AS sensor_frame_count,
        MIN(created_at) AS first_sensor_frame_at,
        MAX(created_at) AS last_sensor_frame_at
    FROM sensor_frames
    GROUP BY job_id
)
SELECT
    j.job_id,
    j.state,
    j.is_terminal,
    j.algorithm,
    j.best_reward,
    g.first_generation,
    g.last_generation,
    first_history.best_reward AS first_generation_reward,
    last_history.best_reward AS last_generation_reward,
    last_history.best_reward - first_history.best_reward AS improvement,
    COALESCE(cc.candidate_count, 0) AS candidate_count,
    COALESCE(lc.lever_version_count, 0) AS lever_version_count,
    COALESCE(fs.sensor_frame_count, 0) AS sensor_frame_count,
    COALESCE(g.generation_count, 0) AS generation_count,
    fs.first_sensor_frame_at,
    fs.last_sensor_frame_at,
    j.created_at,
    j.started_at,
    j.finished_at
FROM jobs AS j
LEFT JOIN generations AS g ON g.job_id = j.job_id
LEFT JOIN history AS first_history
    ON first_history.job_id = g.job_id
    AND first_history.generation = g.first_generation
LEFT JOIN history AS last_history
    ON last_history.job_id = g.job_id
    AND last_history.generation = g.last_generation
LEFT JOIN candidate_counts AS cc ON cc.job_id = j.job_id
LEFT JOIN lever_version_counts AS lc ON lc.job_id = j.job_id
LEFT JOIN frame_stats AS fs ON fs.job_id = j.job_id;
