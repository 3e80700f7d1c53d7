#!/usr/bin/env python3
"""Write docs/schema.md, the data dictionary, from a freshly migrated database.

Usage: python scripts/generate_schema_doc.py [--server-url URL] [--check]

The script creates a temporary database on a PostgreSQL server, migrates it
with `etl db upgrade`'s code, reflects it and drops it again. The server URL
must belong to a role with CREATEDB. `make schema-doc` runs the script against
a throwaway server when ETL_TEST_POSTGRES_URL is not set.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from etl.load import connect, upgrade
from etl.schema_doc import (
    DictionaryMismatchError,
    describe_schema,
    render_markdown,
    temporary_database,
)

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "docs" / "schema.md"
SERVER_URL_VARIABLE = "ETL_TEST_POSTGRES_URL"


def generate(server_url: str) -> str:
    """Migrate a temporary database on `server_url` and return the Markdown."""
    with temporary_database(server_url) as database_url:
        engine = connect(database_url)
        try:
            upgrade(engine)
            revision, relations = describe_schema(engine)
        finally:
            engine.dispose()
    return render_markdown(revision, relations)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--server-url",
        default=os.environ.get(SERVER_URL_VARIABLE),
        help="SQLAlchemy URL of a PostgreSQL role with CREATEDB "
        f"[env {SERVER_URL_VARIABLE}].",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="File to write.")
    parser.add_argument(
        "--check",
        action="store_true",
        help="Write nothing, and exit 1 when the file differs from the database.",
    )
    args = parser.parse_args(argv)
    if not args.server_url:
        parser.error(
            f"set --server-url or {SERVER_URL_VARIABLE}, or run `make schema-doc`, "
            "which starts a throwaway PostgreSQL server"
        )
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")

    try:
        text = generate(args.server_url)
    except DictionaryMismatchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.check:
        current = args.out.read_text("utf-8") if args.out.is_file() else ""
        if current != text:
            print(f"{args.out} is out of date. Run `make schema-doc`.", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date.")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, "utf-8")
    print(f"Wrote {args.out}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
