-- Which jobs improved most between their first and last generation?
--
-- One row per job with history rewards at both ends, largest improvement
-- first, ties ordered by job_id. Change the LIMIT to see more jobs. Runs on
-- SQLite and PostgreSQL.
SELECT
    job_id,
    algorithm,
    state,
    first_generation,
    last_generation,
    first_generation_reward,
    last_generation_reward,
    improvement
FROM job_summary
WHERE improvement IS NOT NULL
ORDER BY improvement DESC, job_id
LIMIT 20;
