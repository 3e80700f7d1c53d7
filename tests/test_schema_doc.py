"""docs/schema.md matches the migrated schema and etl/load/dictionary.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from conftest import get_postgres_server_url
from etl.load import connect, upgrade
from etl.schema_doc import (
    REGENERATE_COMMAND,
    DictionaryMismatchError,
    describe_schema,
    render_markdown,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DOC = REPO_ROOT / "docs" / "schema.md"
GENERATOR = REPO_ROOT / "scripts" / "generate_schema_doc.py"


def test_schema_doc_is_current(postgres_url: str) -> None:
    engine = connect(postgres_url)
    try:
        upgrade(engine)
        expected = render_markdown(*describe_schema(engine))
    finally:
        engine.dispose()

    assert SCHEMA_DOC.read_text("utf-8") == expected, (
        f"docs/schema.md is out of date; regenerate it with `{REGENERATE_COMMAND}`"
    )


def test_dictionary_rejects_unknown_column(postgres_url: str) -> None:
    engine = connect(postgres_url)
    try:
        upgrade(engine)
        with engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE history ADD COLUMN mystery text")
        with pytest.raises(DictionaryMismatchError) as raised:
            describe_schema(engine)
    finally:
        engine.dispose()

    assert "columns of history" in str(raised.value)
    assert "no meaning for ['mystery']" in str(raised.value)


def test_dictionary_rejects_unknown_table(postgres_url: str) -> None:
    engine = connect(postgres_url)
    try:
        upgrade(engine)
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE mystery (id integer)")
        with pytest.raises(DictionaryMismatchError) as raised:
            describe_schema(engine)
    finally:
        engine.dispose()

    assert "no meaning for mystery" in str(raised.value)


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_schema_doc", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.postgres
def test_generator_check_passes(capsys: pytest.CaptureFixture[str]) -> None:
    server_url = get_postgres_server_url().render_as_string(hide_password=False)

    code = load_generator().main(["--check", "--server-url", server_url])

    assert code == 0
    assert capsys.readouterr().out == f"{SCHEMA_DOC} is up to date.\n"


@pytest.mark.postgres
def test_generator_check_fails_on_stale_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server_url = get_postgres_server_url().render_as_string(hide_password=False)
    stale = tmp_path / "schema.md"
    stale.write_text("# Data dictionary\n", "utf-8")

    code = load_generator().main(
        ["--check", "--server-url", server_url, "--out", str(stale)]
    )

    assert code == 1
    assert capsys.readouterr().err == (
        f"{stale} is out of date. Run `make schema-doc`.\n"
    )
