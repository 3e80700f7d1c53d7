"""Render the data dictionary, docs/schema.md, from a migrated database.

Types, keys and nullability come from reflecting a PostgreSQL database that
`etl db upgrade` migrated. Meanings come from `etl.load.dictionary`. Run
`make schema-doc` to regenerate the file.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.engine.reflection import Inspector
from sqlalchemy.pool import NullPool

from etl.load.database import current_revision
from etl.load.dictionary import RELATIONS, Relation

__all__ = [
    "REGENERATE_COMMAND",
    "DictionaryMismatchError",
    "RelationDoc",
    "describe_schema",
    "render_markdown",
    "temporary_database",
]

logger = logging.getLogger(__name__)

REGENERATE_COMMAND = "make schema-doc"
_MAINTENANCE_DATABASE = "postgres"


class DictionaryMismatchError(Exception):
    """The database and `etl.load.dictionary` list different tables or columns."""


@dataclass(frozen=True)
class ColumnDoc:
    """One column as the data dictionary shows it."""

    name: str
    type: str
    key: str
    nullable: bool
    meaning: str


@dataclass(frozen=True)
class RelationDoc:
    """One table or view as the data dictionary shows it."""

    name: str
    kind: str
    meaning: str
    columns: tuple[ColumnDoc, ...]


def describe_schema(engine: Engine) -> tuple[str, list[RelationDoc]]:
    """Reflect every table and view, and return the schema revision and relations.

    Raises DictionaryMismatchError when a table, view or column has no meaning
    in `etl.load.dictionary`, or a meaning names one that does not exist.
    """
    revision = current_revision(engine) or "empty"
    inspector = inspect(engine)
    found = {name: "table" for name in inspector.get_table_names()}
    found.update({name: "view" for name in inspector.get_view_names()})
    _check_relation_names(set(found))
    relations = [
        _describe_relation(inspector, name, found[name], engine) for name in RELATIONS
    ]
    return revision, relations


def _check_relation_names(found: set[str]) -> None:
    missing = sorted(found - set(RELATIONS))
    stale = sorted(set(RELATIONS) - found)
    problems = []
    if missing:
        problems.append(f"no meaning for {', '.join(missing)}")
    if stale:
        problems.append(f"meanings for {', '.join(stale)}, which do not exist")
    if problems:
        raise DictionaryMismatchError(
            f"etl/load/dictionary.py has {'; '.join(problems)}. "
            "Update RELATIONS there to match the migrations."
        )


def _describe_relation(
    inspector: Inspector, name: str, kind: str, engine: Engine
) -> RelationDoc:
    relation = RELATIONS[name]
    reflected = inspector.get_columns(name)
    _check_column_names(name, relation, [column["name"] for column in reflected])
    keys = _table_keys(inspector, name) if kind == "table" else _view_keys(relation)
    columns = tuple(
        ColumnDoc(
            name=column["name"],
            type=column["type"].compile(dialect=engine.dialect).lower(),
            key=keys.get(column["name"], ""),
            nullable=_is_nullable(column, kind, relation),
            meaning=relation.columns[column["name"]],
        )
        for column in reflected
    )
    return RelationDoc(name, kind, relation.meaning, columns)


def _check_column_names(name: str, relation: Relation, found: list[str]) -> None:
    missing = [column for column in found if column not in relation.columns]
    stale = [column for column in relation.columns if column not in found]
    problems = []
    if missing:
        problems.append(f"no meaning for {missing}")
    if stale:
        problems.append(f"meanings for {stale}, which do not exist")
    if problems:
        raise DictionaryMismatchError(
            f"etl/load/dictionary.py does not match the columns of {name}: "
            f"{'; '.join(problems)}. Update its entry for {name}."
        )


def _table_keys(inspector: Inspector, name: str) -> dict[str, str]:
    keys: dict[str, list[str]] = {}
    primary_key = inspector.get_pk_constraint(name)["constrained_columns"]
    for column in primary_key:
        keys.setdefault(column, []).append("PK")
    for foreign_key in inspector.get_foreign_keys(name):
        pairs = zip(
            foreign_key["constrained_columns"],
            foreign_key["referred_columns"],
            strict=True,
        )
        for column, referred in pairs:
            target = f"{foreign_key['referred_table']}.{referred}"
            keys.setdefault(column, []).append(f"FK {target}")
    return {column: ", ".join(labels) for column, labels in keys.items()}


def _view_keys(relation: Relation) -> dict[str, str]:
    return {column: "key" for column in relation.key}


def _is_nullable(column: Any, kind: str, relation: Relation) -> bool:
    if kind == "view":
        return column["name"] not in relation.not_null
    nullable: bool = column["nullable"]
    return nullable


def render_markdown(revision: str, relations: Sequence[RelationDoc]) -> str:
    """Return the text of docs/schema.md."""
    lines = [
        "# Data dictionary",
        "",
        f"Generated by `{REGENERATE_COMMAND}` from a PostgreSQL database migrated",
        f"to revision `{revision}`. Do not edit it by hand. The meanings come",
        "from `etl/load/dictionary.py`.",
        "",
        "Types are PostgreSQL's. On SQLite, timestamps are UTC text",
        "(`YYYY-MM-DD HH:MM:SS.ffffff`), dates are `YYYY-MM-DD` text and booleans",
        "are 0/1. In views, `key` marks the columns that identify a row.",
        "",
    ]
    for kind, heading in (("table", "Tables"), ("view", "Views")):
        lines += [f"## {heading}", ""]
        for relation in relations:
            if relation.kind == kind:
                lines += _render_relation(relation)
    return "\n".join(lines).rstrip("\n") + "\n"


def _render_relation(relation: RelationDoc) -> list[str]:
    lines = [
        f"### `{relation.name}`",
        "",
        relation.meaning,
        "",
        "| column | type | key | nullable | meaning |",
        "|---|---|---|---|---|",
    ]
    for column in relation.columns:
        cells = (
            f"`{column.name}`",
            column.type,
            column.key,
            "yes" if column.nullable else "no",
            column.meaning.replace("|", "\\|"),
        )
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    return lines


@contextmanager
def temporary_database(server_url: str) -> Iterator[str]:
    """Create an empty PostgreSQL database, yield its URL, then drop it.

    `server_url` is the URL of a role with CREATEDB on any database of the
    server. The new database gets a random name that starts with etl_doc_.
    """
    url = make_url(server_url)
    name = f"etl_doc_{uuid.uuid4().hex}"
    maintenance = create_engine(
        url.set(database=_MAINTENANCE_DATABASE),
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
    )
    try:
        with maintenance.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        logger.info("Created the temporary database %s.", name)
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            with maintenance.connect() as connection:
                connection.execute(
                    text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                )
            logger.info("Dropped the temporary database %s.", name)
    finally:
        maintenance.dispose()
