-- reward_history: one row per job and generation in history.
--
-- reward_change is best_reward minus the best_reward of the job's previous
-- generation in history (the next lower generation number that was archived).
-- It is NULL for the job's first generation and when either reward is NULL.
CREATE VIEW reward_history AS
SELECT
    job_id,
    generation,
    best_reward,
    best_reward - LAG(best_reward) OVER (
        PARTITION BY job_id
        ORDER BY generation
    ) AS reward_change
FROM history;
