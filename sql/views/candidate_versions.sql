-- candidate_versions: one row per candidate of a job, with the version of the
-- job's prompt lever that the candidate used and its baseline, best and
-- selected flags. The flags are boolean on PostgreSQL and 0/1 on SQLite.
CREATE VIEW candidate_versions AS
SELECT
    c.job_id,
    c.candidate_id,
    j.prompt_lever_id,
    c.lever_version,
    c.is_baseline,
    c.is_best,
    c.is_selected
FROM candidates AS c
JOIN jobs AS j ON j.job_id = c.job_id;
