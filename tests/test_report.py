"""`etl report` writes one self-contained HTML page with exactly known content.

The structure tests parse the file with the standard library's HTML parser.
The Chromium tests load it in headless Chromium and read the DOM it rendered
and the network log it wrote.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from analysis_dataset import DATABASE_PARAMS, PAYLOADS, empty_database, write_payloads
from archive_helpers import run_etl
from etl.load import connect
from etl.report import write_report

CHROMIUM = Path("/usr/bin/chromium")
HOSTILE_JOB_ID = '<script>alert("job")</script>&'
HOSTILE_ALGORITHM = "<img src=x onerror=alert(1)>"
HOSTILE_JOB: dict[str, Any] = {
    "job_id": HOSTILE_JOB_ID,
    "status": "</td><b>odd</b>",
    "algorithm": HOSTILE_ALGORITHM,
    "best_reward": 0.5,
    "history": [{"generation": 7, "best_reward": 0.5}],
    "sensor_frames": [
        {
            "frame_id": "h1",
            "created_at": "2026-04-01T12:00:00Z",
            "sensor_kinds": ["<kind>"],
        }
    ],
}
GENERATED_AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
# The report shows a missing value as an en dash.
MISSING = "\u2013"

# Newest created_at first, then jobs without one by job_id.
EXPECTED_JOB_ORDER = ["job_beta", "job_alpha", HOSTILE_JOB_ID, "job_gamma"]
# Path data of job_alpha's line: generations 1-4 span x 48-348 and rewards
# 0.25-0.875, padded by 5 % of their range, span y 126-10.
EXPECTED_ALPHA_PATH = "M48.0,120.7 L148.0,78.5 L248.0,99.6 L348.0,15.3"
# Generation 5 sits at x 348, so the gap after generation 2 shows.
EXPECTED_BETA_PATH = "M48.0,15.3 L123.0,120.7 L348.0,68.0"
# A single generation is drawn at the centre of the plot.
EXPECTED_HOSTILE_PATH = "M198.0,68.0"


@dataclass
class Element:
    tag: str
    attributes: dict[str, str]
    text: str = ""
    children: list[Element] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attributes.get("class", "").split())

    def find_all(self, tag: str, css_class: str | None = None) -> list[Element]:
        found = []
        for child in self.children:
            if child.tag == tag and (css_class is None or css_class in child.classes):
                found.append(child)
            found.extend(child.find_all(tag, css_class))
        return found

    def all_text(self) -> str:
        return self.text + "".join(child.all_text() for child in self.children)


VOID_TAGS = {"meta", "link", "br", "img", "input", "hr"}


class TreeBuilder(HTMLParser):
    """Build a tree of Elements; enough HTML for this report and Chromium's DOM."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID_TAGS:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(element)

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].text += data


def parse_html(page: str) -> Element:
    builder = TreeBuilder()
    builder.feed(page)
    builder.close()
    return builder.root


def all_attributes(root: Element) -> list[tuple[str, str, str]]:
    found = [(root.tag, name, value) for name, value in root.attributes.items()]
    for child in root.children:
        found.extend(all_attributes(child))
    return found


def write_dataset_report(database_url: str, directory: Path) -> Path:
    path = write_payloads(directory / "payloads", (*PAYLOADS, HOSTILE_JOB))
    loaded = run_etl("sync", "--from", str(path), "--database-url", database_url)
    assert loaded.exit_code == 0, loaded.stderr
    out = directory / "report.html"
    engine = connect(database_url)
    try:
        write_report(engine, out, "the test archive", GENERATED_AT)
    finally:
        engine.dispose()
    return out


@pytest.fixture(scope="module", params=DATABASE_PARAMS)
def report_page(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The report of the known data set plus a hostile job, once per database."""
    directory = tmp_path_factory.mktemp(f"report-{request.param}")
    with empty_database(request.param, directory) as url:
        yield write_dataset_report(url, directory).read_text("utf-8")


def test_report_job_rows(report_page: str) -> None:
    rows = parse_html(report_page).find_all("tr", "job")
    first_cells = [row.find_all("td")[0].all_text() for row in rows]

    assert first_cells == EXPECTED_JOB_ORDER


def test_report_job_row_values(report_page: str) -> None:
    rows = parse_html(report_page).find_all("tr", "job")
    alpha = [cell.all_text() for cell in rows[1].find_all("td")]
    gamma = [cell.all_text() for cell in rows[3].find_all("td")]

    assert alpha == [
        "job_alpha",
        "succeeded",
        "gepa",
        "0.875",
        "0.25",
        "0.875",
        "0.625",
        "4",
        "2",
        "2026-03-01 08:00",
    ]
    assert gamma == [
        "job_gamma",
        "failed",
        MISSING,
        MISSING,
        MISSING,
        MISSING,
        MISSING,
        "1",
        "1",
        MISSING,
    ]


def test_report_chart_counts(report_page: str) -> None:
    root = parse_html(report_page)

    assert len(root.find_all("section", "job")) == 4
    assert len(root.find_all("svg", "reward-chart")) == 3
    assert len(root.find_all("svg", "activity-chart")) == 3


def test_report_reward_paths(report_page: str) -> None:
    paths = [
        path.attributes["d"]
        for path in parse_html(report_page).find_all("path", "reward-line")
    ]

    assert paths == [EXPECTED_BETA_PATH, EXPECTED_ALPHA_PATH, EXPECTED_HOSTILE_PATH]


def test_report_activity_bars(report_page: str) -> None:
    charts = parse_html(report_page).find_all("svg", "activity-chart")
    titles = [
        [bar.all_text() for bar in chart.find_all("rect", "activity-bar")]
        for chart in charts
    ]
    heights = [
        [bar.attributes["height"] for bar in chart.find_all("rect", "activity-bar")]
        for chart in charts
    ]

    assert titles == [
        ["2026-03-02: 2 frames"],
        ["2026-03-01: 1 frame", "2026-03-02: 1 frame"],
        ["2026-04-01: 1 frame"],
    ]
    assert heights == [["76.0"], ["76.0", "76.0"], ["76.0"]]


def test_report_notes_undated_frames(report_page: str) -> None:
    notes = [note.all_text() for note in parse_html(report_page).find_all("p", "note")]

    assert notes == ["Not shown: 1 frame without a creation time."]


def test_report_escapes_database_text(report_page: str) -> None:
    lowered = report_page.lower()

    assert "<script" not in lowered
    assert "<img" not in lowered
    assert "<b>odd" not in lowered
    assert "&lt;script&gt;alert(&quot;job&quot;)&lt;/script&gt;&amp;" in report_page
    assert "&lt;img src=x onerror=alert(1)&gt;" in report_page


def test_report_refers_to_nothing_outside(report_page: str) -> None:
    root = parse_html(report_page)
    links = [
        (tag, name, value)
        for tag, name, value in all_attributes(root)
        if name in {"src", "href", "xlink:href", "action", "srcset", "data"}
    ]

    assert all(value.startswith("#job-") for _, _, value in links)
    assert len(links) == 4
    assert "url(" not in report_page
    assert "@import" not in report_page
    assert "http:" not in report_page
    assert "https:" not in report_page
    assert "//" not in report_page
    assert root.find_all("link") == []
    assert root.find_all("script") == []


def test_report_same_on_both_databases(
    sqlite_url: str, postgres_url: str, tmp_path: Path
) -> None:
    from_sqlite = write_dataset_report(sqlite_url, tmp_path / "sqlite")
    from_postgres = write_dataset_report(postgres_url, tmp_path / "postgres")

    assert from_sqlite.read_text("utf-8") == from_postgres.read_text("utf-8")


def test_report_command_writes_file(sqlite_url: str, tmp_path: Path) -> None:
    path = write_payloads(tmp_path / "payloads", (*PAYLOADS, HOSTILE_JOB))
    loaded = run_etl("sync", "--from", str(path), "--database-url", sqlite_url)
    assert loaded.exit_code == 0, loaded.stderr
    out = tmp_path / "report.html"

    result = run_etl("report", "--database-url", sqlite_url, "--out", str(out))

    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        f"Wrote {out}: 4 jobs, 3 reward charts, 3 sensor activity charts.\n"
    )
    assert out.read_text("utf-8").startswith("<!DOCTYPE html>")


def test_report_missing_sqlite_file(tmp_path: Path) -> None:
    database = tmp_path / "absent.db"
    out = tmp_path / "report.html"

    result = run_etl(
        "report", "--database-url", f"sqlite:///{database}", "--out", str(out)
    )

    assert result.exit_code == 2
    assert f"The SQLite database {database} does not exist" in result.stderr
    assert not database.exists()
    assert not out.exists()


def test_report_missing_output_directory(sqlite_url: str, tmp_path: Path) -> None:
    assert run_etl("db", "upgrade", "--database-url", sqlite_url).exit_code == 0
    out = tmp_path / "absent" / "report.html"

    result = run_etl("report", "--database-url", sqlite_url, "--out", str(out))

    assert result.exit_code == 1
    assert f"Cannot write the report to {out}: No such file or directory" in (
        result.stderr
    )
    assert not out.parent.exists()


def test_report_database_without_archive(database_url: str, tmp_path: Path) -> None:
    engine = connect(database_url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE unrelated (id integer)")
    finally:
        engine.dispose()
    out = tmp_path / "report.html"

    result = run_etl("report", "--database-url", database_url, "--out", str(out))

    assert result.exit_code == 2
    assert "contains no archive" in result.stderr
    assert "etl sync" in result.stderr
    assert not out.exists()


def require_chromium() -> Path:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing; install the Debian package chromium "
            "(`apt-get install chromium`), as .ci/run does"
        )
    return CHROMIUM


@dataclass(frozen=True)
class Rendered:
    dom: str
    page_requests: list[str]


def render_in_chromium(page: Path, work_dir: Path) -> Rendered:
    """Load `page` in headless Chromium; return the DOM and the URLs it fetched.

    Every host name, IP literals included, resolves to NOTFOUND, so no request
    leaves the machine, but Chromium still logs each request it starts.
    Requests made for the page carry the file:// origin in their network
    isolation key, and Chromium's own background requests do not.
    """
    net_log = work_dir / "net-log.json"
    command = [
        str(require_chromium()),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={work_dir / 'profile'}",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--log-net-log={net_log}",
        "--dump-dom",
        page.resolve().as_uri(),
    ]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return Rendered(completed.stdout, page_requests(net_log))


def page_requests(net_log: Path) -> list[str]:
    log = json.loads(net_log.read_text("utf-8"))
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        event["params"]["url"]
        for event in log["events"]
        if event["type"] == start_job
        and "file://" in event.get("params", {}).get("network_isolation_key", "")
    ]


def test_chromium_draws_report_charts(sqlite_url: str, tmp_path: Path) -> None:
    report = write_dataset_report(sqlite_url, tmp_path)

    rendered = render_in_chromium(report, tmp_path)
    root = parse_html(rendered.dom)
    reward_paths = [
        path.attributes.get("d", "")
        for chart in root.find_all("svg", "reward-chart")
        for path in chart.find_all("path", "reward-line")
    ]
    bar_heights = [
        float(bar.attributes["height"])
        for chart in root.find_all("svg", "activity-chart")
        for bar in chart.find_all("rect", "activity-bar")
    ]

    assert rendered.page_requests == []
    assert len(root.find_all("tr", "job")) == 4
    assert reward_paths == [
        EXPECTED_BETA_PATH,
        EXPECTED_ALPHA_PATH,
        EXPECTED_HOSTILE_PATH,
    ]
    assert len(bar_heights) == 4
    assert min(bar_heights) > 0
    assert root.find_all("script") == []


def test_chromium_net_log_sees_external_image(tmp_path: Path) -> None:
    # Control for the check above: a page that loads an image shows up in the
    # network log, although the host name never resolves.
    page = tmp_path / "external.html"
    page.write_text(
        '<!DOCTYPE html><img src="http://external.invalid/pixel.png">', "utf-8"
    )

    rendered = render_in_chromium(page, tmp_path)

    assert rendered.page_requests == ["http://external.invalid/pixel.png"]
