-- Metabase keeps its own settings, users and saved questions in this
-- database. The postgres image runs the files in /docker-entrypoint-initdb.d
-- only when it initializes an empty data volume.
CREATE DATABASE metabase;
