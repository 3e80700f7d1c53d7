"""A progress bar on a terminal, plain log lines elsewhere."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path


def write_files(folder: Path, count: int) -> None:
    folder.mkdir()
    for number in range(count):
        body = {"job_id": f"job_{number}", "status": "succeeded"}
        (folder / f"job_{number}.json").write_text(json.dumps(body))


def test_bar_on_terminal(tmp_path: Path) -> None:
    write_files(tmp_path / "files", 5)
    parent, child = pty.openpty()
    url = f"sqlite:///{tmp_path / 'bar.db'}"

    process = subprocess.run(
        [sys.executable, "-m", "etl", "sync", "--from", str(tmp_path / "files")],
        env=os.environ | {"ETL_DATABASE_URL": url},
        stdout=subprocess.DEVNULL,
        stderr=child,
        check=False,
        timeout=60,
    )
    os.close(child)
    screen = b""
    while True:
        try:
            chunk = os.read(parent, 65536)
        except OSError:
            break
        if not chunk:
            break
        screen += chunk
    os.close(parent)

    assert process.returncode == 0
    text = screen.decode("utf-8", "replace")
    assert "Reading files" in text
    assert "5/5" in text or "100%" in text


def test_no_bar_without_terminal(tmp_path: Path) -> None:
    write_files(tmp_path / "files", 5)
    url = f"sqlite:///{tmp_path / 'plain.db'}"

    process = subprocess.run(
        [sys.executable, "-m", "etl", "sync", "--from", str(tmp_path / "files")],
        env=os.environ | {"ETL_DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert process.returncode == 0
    assert "Reading files" not in process.stderr
    assert "\r" not in process.stderr
    summaries = [
        line for line in process.stderr.splitlines() if "etl.pipeline: Run " in line
    ]
    assert len(summaries) == 1
