"""Alembic environment: runs migrations on the connection `etl` hands over.

`etl db upgrade` passes an open connection in `config.attributes`, so the
database URL, and any password in it, never passes through Alembic's
configuration file. Plain `alembic` commands work too: they read the URL from
ETL_DATABASE_URL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from etl.config import load_settings
from etl.load.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(load_settings().database_url)
    with engine.connect() as new_connection:
        _run(new_connection)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline SQL generation is not supported; run etl db upgrade.")
run_migrations_online()
