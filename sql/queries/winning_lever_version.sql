-- Which lever and version produced a job's best result?
--
-- Parameter job_id: the id of one job, bound to the named placeholder in the
-- WHERE clause. README.md in this directory shows how SQLAlchemy, sqlite3 and
-- psql bind it.
--
-- Returns one row, or none when the job is not archived. lever_version is the
-- job's best_lever_version, or else the lever version of its best candidate.
-- lever_id is the job's prompt lever. Runs on SQLite and PostgreSQL.
SELECT
    j.job_id,
    j.best_candidate_id,
    j.prompt_lever_id AS lever_id,
    COALESCE(j.best_lever_version, c.lever_version) AS lever_version,
    j.best_reward
FROM jobs AS j
LEFT JOIN candidates AS c
    ON c.job_id = j.job_id
    AND c.candidate_id = j.best_candidate_id
WHERE j.job_id = :job_id;
