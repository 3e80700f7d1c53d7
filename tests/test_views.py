"""The analysis views return exactly known rows, the same on SQLite and PostgreSQL.

Rows are compared after one conversion: booleans become 0/1, timestamps become
ISO strings in UTC, and PostgreSQL dates become YYYY-MM-DD strings. The views
themselves keep each database's native types.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool

from analysis_dataset import DATABASE_PARAMS, PAYLOADS, empty_database, write_payloads
from archive_helpers import run_etl
from conftest import create_postgres_database
from etl.load import connect
from etl.load.dictionary import RELATIONS
from etl.load.views import VIEW_NAMES

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLES_DIR = REPO_ROOT / "examples"
# A session zone far from UTC: a view that converted timestamps to days in the
# session's zone would move frames near midnight to the previous day.
POSTGRES_SESSION_ZONE = "America/Sao_Paulo"
TIMESTAMP_COLUMNS = frozenset(
    {
        "created_at",
        "started_at",
        "finished_at",
        "first_sensor_frame_at",
        "last_sensor_frame_at",
    }
)

EXPECTED_COLUMNS = {
    "job_summary": (
        "job_id",
        "state",
        "is_terminal",
        "algorithm",
        "best_reward",
        "first_generation",
        "last_generation",
        "first_generation_reward",
        "last_generation_reward",
        "improvement",
        "candidate_count",
        "lever_version_count",
        "sensor_frame_count",
        "generation_count",
        "first_sensor_frame_at",
        "last_sensor_frame_at",
        "created_at",
        "started_at",
        "finished_at",
    ),
    "reward_history": ("job_id", "generation", "best_reward", "reward_change"),
    "sensor_activity_daily": ("day", "kind", "frame_count", "job_count"),
    "candidate_versions": (
        "job_id",
        "candidate_id",
        "prompt_lever_id",
        "lever_version",
        "is_baseline",
        "is_best",
        "is_selected",
    ),
    "lever_version_usage": (
        "lever_id",
        "version",
        "frame_job_count",
        "frame_count",
        "current_job_count",
    ),
}

# Rows sorted column by column, NULL after every value.
EXPECTED_ROWS: dict[str, list[tuple[Any, ...]]] = {
    "job_summary": [
        (
            "job_alpha",
            "succeeded",
            1,
            "gepa",
            0.875,
            1,
            4,
            0.25,
            0.875,
            0.625,
            2,
            2,
            2,
            4,
            "2026-03-01T10:00:00+00:00",
            "2026-03-02T00:30:00+00:00",
            "2026-03-01T08:00:00+00:00",
            "2026-03-01T08:05:00+00:00",
            "2026-03-02T01:00:00+00:00",
        ),
        (
            "job_beta",
            "running",
            0,
            "mipro",
            0.5,
            1,
            5,
            0.5,
            0.375,
            -0.125,
            2,
            2,
            2,
            3,
            "2026-03-02T00:00:00+00:00",
            "2026-03-02T00:15:00+00:00",
            "2026-03-01T12:00:00+00:00",
            None,
            None,
        ),
        (
            "job_gamma",
            "failed",
            1,
            None,
            None,
            1,
            1,
            None,
            None,
            None,
            0,
            1,
            1,
            1,
            None,
            None,
            None,
            None,
            None,
        ),
    ],
    "reward_history": [
        ("job_alpha", 1, 0.25, None),
        ("job_alpha", 2, 0.5, 0.25),
        ("job_alpha", 3, 0.375, -0.125),
        ("job_alpha", 4, 0.875, 0.5),
        ("job_beta", 1, 0.5, None),
        ("job_beta", 2, 0.25, -0.25),
        ("job_beta", 5, 0.375, 0.125),
        ("job_gamma", 1, None, None),
    ],
    "sensor_activity_daily": [
        ("2026-03-01", "reward", 1, 1),
        ("2026-03-01", "rollout", 1, 1),
        ("2026-03-02", "reward", 2, 2),
        ("2026-03-02", "timing", 1, 1),
        ("2026-03-02", None, 1, 1),
        (None, "quality", 1, 1),
    ],
    "candidate_versions": [
        ("job_alpha", "alpha_base", "lever.prompt.alpha", 1, 1, 0, 0),
        ("job_alpha", "alpha_cand", "lever.prompt.alpha", 3, 0, 1, 1),
        ("job_beta", "beta_base", "lever.prompt.beta", 1, 1, 1, 0),
        ("job_beta", "beta_cand", "lever.prompt.beta", 2, 0, 0, 1),
    ],
    "lever_version_usage": [
        ("lever.gamma", None, 1, 1, 1),
        ("lever.prompt.alpha", 2, 1, 1, 0),
        ("lever.prompt.alpha", 3, 1, 1, 1),
        ("lever.prompt.beta", 2, 0, 0, 1),
        ("lever.shared", 2, 2, 3, 2),
    ],
}


def comparable(column: str, value: Any) -> Any:
    """Convert one view value to the form shared by both databases."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if column in TIMESTAMP_COLUMNS and isinstance(value, str):
        # SQLite keeps UTC wall time as text.
        return datetime.fromisoformat(value).replace(tzinfo=UTC).isoformat()
    return value


def sort_key(row: tuple[Any, ...]) -> tuple[tuple[bool, Any], ...]:
    return tuple((value is None, value) for value in row)


def read_view(url: str, name: str) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    """Return a view's column names and its rows, comparable and sorted."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text(f"SET TIME ZONE '{POSTGRES_SESSION_ZONE}'"))
            result = connection.execute(text(f"SELECT * FROM {name}"))
            columns = tuple(result.keys())
            rows = [
                tuple(comparable(c, v) for c, v in zip(columns, row, strict=True))
                for row in result
            ]
    finally:
        engine.dispose()
    return columns, sorted(rows, key=sort_key)


ViewRows = dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]]


def load_dataset(url: str, directory: Path) -> None:
    path = write_payloads(directory, PAYLOADS)
    result = run_etl("sync", "--from", str(path), "--database-url", url)
    assert result.exit_code == 0, result.stderr


def alembic_config(connection: Any) -> Config:
    config = Config()
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    config.attributes["connection"] = connection
    return config


@pytest.fixture(scope="module", params=DATABASE_PARAMS)
def dataset_views(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ViewRows]:
    """Columns and rows of every view after loading the known data set once."""
    directory = tmp_path_factory.mktemp(f"dataset-{request.param}")
    with empty_database(request.param, directory) as url:
        load_dataset(url, directory / "payloads")
        yield {view: read_view(url, view) for view in VIEW_NAMES}


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_view_columns(dataset_views: ViewRows, view: str) -> None:
    assert dataset_views[view][0] == EXPECTED_COLUMNS[view]


def test_job_summary_rows(dataset_views: ViewRows) -> None:
    assert dataset_views["job_summary"][1] == EXPECTED_ROWS["job_summary"]


def test_reward_history_rows(dataset_views: ViewRows) -> None:
    assert dataset_views["reward_history"][1] == EXPECTED_ROWS["reward_history"]


def test_sensor_activity_daily_rows(dataset_views: ViewRows) -> None:
    rows = dataset_views["sensor_activity_daily"][1]

    assert rows == EXPECTED_ROWS["sensor_activity_daily"]


def test_candidate_versions_rows(dataset_views: ViewRows) -> None:
    rows = dataset_views["candidate_versions"][1]

    assert rows == EXPECTED_ROWS["candidate_versions"]


def test_lever_version_usage_rows(dataset_views: ViewRows) -> None:
    rows = dataset_views["lever_version_usage"][1]

    assert rows == EXPECTED_ROWS["lever_version_usage"]


def test_downgrade_drops_views(database_url: str) -> None:
    engine = connect(database_url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0003")
        views_at_0003 = set(inspect(engine).get_view_names())
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), "0002")
        inspector = inspect(engine)
        views_at_0002 = set(inspector.get_view_names())
        tables_at_0002 = set(inspector.get_table_names())
    finally:
        engine.dispose()

    assert views_at_0003 >= set(VIEW_NAMES)
    assert views_at_0002 & set(VIEW_NAMES) == set()
    assert {"jobs", "history", "sensor_frames"} <= tables_at_0002


@pytest.fixture(scope="module")
def example_rows(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, dict[str, list[tuple[Any, ...]]]]]:
    """Every view's rows for examples/, keyed by database and then by view."""
    sqlite_url = f"sqlite:///{tmp_path_factory.mktemp('examples') / 'archive.db'}"
    with create_postgres_database() as postgres_url:
        rows: dict[str, dict[str, list[tuple[Any, ...]]]] = {}
        for name, url in (("sqlite", sqlite_url), ("postgresql", postgres_url)):
            result = run_etl("sync", "--from", str(EXAMPLES_DIR), "--database-url", url)
            assert result.exit_code == 0, result.stderr
            rows[name] = {view: read_view(url, view)[1] for view in VIEW_NAMES}
        yield rows


@pytest.mark.postgres
@pytest.mark.parametrize("view", VIEW_NAMES)
def test_view_same_on_both_databases(
    example_rows: dict[str, dict[str, list[tuple[Any, ...]]]], view: str
) -> None:
    sqlite_rows = example_rows["sqlite"][view]
    postgres_rows = example_rows["postgresql"][view]

    assert len(sqlite_rows) > 0
    assert sqlite_rows == postgres_rows


@pytest.mark.postgres
@pytest.mark.parametrize("view", VIEW_NAMES)
def test_view_key_and_not_null_hold(
    example_rows: dict[str, dict[str, list[tuple[Any, ...]]]], view: str
) -> None:
    relation = RELATIONS[view]
    columns = EXPECTED_COLUMNS[view]
    key_positions = [columns.index(name) for name in relation.key]
    not_null_positions = {name: columns.index(name) for name in relation.not_null}

    for database, rows in example_rows.items():
        keys = [tuple(row[i] for i in key_positions) for row in rows[view]]
        null_columns = {
            name
            for name, position in not_null_positions.items()
            for row in rows[view]
            if row[position] is None
        }
        assert len(keys) == len(set(keys)), f"duplicate {relation.key} on {database}"
        assert null_columns == set(), f"NULL in not_null columns on {database}"
