-- Which jobs had a lower best reward in a generation than in the one before?
--
-- One row per generation whose best_reward is below that of the job's
-- previous archived generation, the largest drop first, ties ordered by
-- job_id and generation. Runs on SQLite and PostgreSQL.
SELECT
    job_id,
    generation,
    best_reward,
    reward_change
FROM reward_history
WHERE reward_change < 0
ORDER BY reward_change, job_id, generation;
