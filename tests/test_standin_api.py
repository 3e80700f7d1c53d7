"""Tests of the stand-in Synth API, made over HTTP against the running server."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest

from tests.standin_api import (
    CURSOR_LISTING_PATH,
    OFFSET_LISTING_PATHS,
    Fault,
    RunningStandin,
    StandinApi,
    add_faults_from_json,
    decode_cursor,
    encode_cursor,
    run_standin,
)

API_KEY = "sk_test_standin_key"
OFFSET_PATH = OFFSET_LISTING_PATHS[0]
SCRIPT = Path(__file__).with_name("standin_api.py")

# Listed newest first: po_new, pl_mid, po_tie_a, po_tie_b (same instant as
# po_tie_a, added later), then po_undated, which has no created_at.
PAYLOADS: list[dict[str, Any]] = [
    {
        "job_id": "po_tie_a",
        "status": "succeeded",
        "best_reward": 0.5,
        "created_at": "2026-03-01T10:00:00Z",
    },
    {"job_id": "po_undated", "status": "running", "best_reward": 0.1},
    {
        "job_id": "pl_mid",
        "status": "failed",
        "created_at": "2026-03-02T09:15:30.123456789+02:00",
    },
    {
        "job_id": "po_new",
        "status": "succeeded",
        "best_prompt": {"messages": [{"role": "system", "content": "Résumé 🚀"}]},
        "created_at": "2026-05-02T08:00:00Z",
    },
    {
        "job_id": "po_tie_b",
        "status": "succeeded",
        "created_at": "2026-03-01T12:00:00+02:00",
    },
]
NEWEST_FIRST = ["po_new", "pl_mid", "po_tie_a", "po_tie_b", "po_undated"]


def results_path(job_id: str) -> str:
    return f"/api/policy-optimization/online/jobs/{quote(job_id, safe='')}/results"


def make_client(running: RunningStandin, key: str | None = API_KEY) -> httpx.Client:
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    return httpx.Client(base_url=running.url, headers=headers, timeout=10)


@pytest.fixture
def api() -> StandinApi:
    return StandinApi.from_payloads(PAYLOADS, api_keys=[API_KEY])


@pytest.fixture
def running(api: StandinApi) -> Iterator[RunningStandin]:
    with run_standin(api) as server:
        yield server


@pytest.fixture
def client(running: RunningStandin) -> Iterator[httpx.Client]:
    with make_client(running) as http_client:
        yield http_client


def raw_get(running: RunningStandin, path: str) -> tuple[bytes, bytes]:
    """Send a GET over a plain socket and return the header block and the body.

    Reads until the server closes the connection, so a cut-off body has fewer
    bytes than its Content-Length header.
    """
    address = urlsplit(running.url)
    request = (
        f"GET {path} HTTP/1.1\r\n"
        f"Host: {address.netloc}\r\n"
        f"Authorization: Bearer {API_KEY}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    received = bytearray()
    with socket.create_connection((address.hostname, address.port), timeout=5) as s:
        s.sendall(request)
        while chunk := s.recv(65536):
            received.extend(chunk)
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    return head, body


def header_value(head: bytes, name: str) -> str | None:
    for line in head.decode("latin-1").split("\r\n")[1:]:
        header_name, _, value = line.partition(":")
        if header_name.strip().lower() == name.lower():
            return value.strip()
    return None


def job_ids(summaries: list[dict[str, Any]], key: str = "job_id") -> list[str]:
    return [summary[key] for summary in summaries]


# ---------------------------------------------------------------------------
# Results endpoint
# ---------------------------------------------------------------------------


def test_results_serves_exact_bytes(api: StandinApi, client: httpx.Client) -> None:
    body = b'{ "job_id":"po_raw",\n  "status" : "running", "x": 1.50 }'
    api.add_job("po_raw", body, status="running")

    response = client.get(results_path("po_raw"))

    assert response.status_code == 200
    assert response.content == body
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == str(len(body))


def test_results_payload_utf8(api: StandinApi, client: httpx.Client) -> None:
    response = client.get(results_path("po_new"))

    assert response.status_code == 200
    assert response.json() == PAYLOADS[3]
    assert "Résumé 🚀".encode() in response.content


def test_results_unknown_job_404(client: httpx.Client) -> None:
    response = client.get(results_path("po_missing"))

    assert response.status_code == 404
    assert response.json() == {"detail": "Job not found"}


HOSTILE_IDS = [
    "../admin",
    "a/b",
    "x?y=1",
    "#frag",
    "with space",
    "Résumé ü",
    "日本語",
    "%41",
    "a;b=c",
    "tab\there",
    "..",
]


@pytest.mark.parametrize("job_id", HOSTILE_IDS)
def test_results_hostile_id_round_trips(
    api: StandinApi, running: RunningStandin, job_id: str
) -> None:
    body = json.dumps({"job_id": job_id}).encode()
    api.add_job(job_id, body)
    # Encode dots too, because an unencoded ".." segment is removed by clients.
    segment = quote(job_id, safe="").replace(".", "%2E")
    path = f"/api/policy-optimization/online/jobs/{segment}/results"

    with make_client(running) as http_client:
        response = http_client.get(path)

    assert response.status_code == 200
    assert response.content == body
    assert running.requests[-1].raw_path == path


def test_results_plus_sign_kept_in_path(api: StandinApi, client: httpx.Client) -> None:
    api.add_job("a+b", b"{}")

    response = client.get("/api/policy-optimization/online/jobs/a+b/results")

    assert response.status_code == 200


def test_results_unencoded_slash_not_found(
    api: StandinApi, client: httpx.Client
) -> None:
    api.add_job("a/b", b"{}")

    response = client.get("/api/policy-optimization/online/jobs/a/b/results")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_results_empty_id_not_found(client: httpx.Client) -> None:
    response = client.get("/api/policy-optimization/online/jobs//results")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "HEAD"])
def test_unsupported_method_405(
    running: RunningStandin, client: httpx.Client, method: str
) -> None:
    response = client.request(method, results_path("po_new"), content=b"{}")

    assert response.status_code == 405
    assert running.requests[-1].method == method
    assert running.requests[-1].status == 405
    if method != "HEAD":
        assert response.json() == {"detail": "Method Not Allowed"}


# ---------------------------------------------------------------------------
# Offset listing
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", OFFSET_LISTING_PATHS)
def test_offset_listing_newest_first(client: httpx.Client, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert job_ids(response.json()) == NEWEST_FIRST


def test_offset_listing_summary_fields(client: httpx.Client) -> None:
    summaries = client.get(OFFSET_PATH).json()

    assert summaries[0] == {
        "job_id": "po_new",
        "status": "succeeded",
        "created_at": "2026-05-02T08:00:00Z",
    }
    assert summaries[-1] == {"job_id": "po_undated", "status": "running"}


@pytest.mark.parametrize("envelope", ["jobs", "data", "items"])
def test_offset_listing_envelope(
    api: StandinApi, client: httpx.Client, envelope: Any
) -> None:
    api.offset_envelope = envelope

    body = client.get(OFFSET_PATH, params={"limit": 2}).json()

    assert list(body) == [envelope]
    assert job_ids(body[envelope]) == NEWEST_FIRST[:2]


def test_offset_listing_pages(client: httpx.Client) -> None:
    pages = [
        client.get(OFFSET_PATH, params={"limit": 2, "offset": offset}).json()
        for offset in (0, 2, 4, 6)
    ]

    assert [job_ids(page) for page in pages] == [
        NEWEST_FIRST[0:2],
        NEWEST_FIRST[2:4],
        NEWEST_FIRST[4:],
        [],
    ]


def test_offset_listing_default_limit() -> None:
    payloads = [{"job_id": f"po_{n:03d}", "status": "running"} for n in range(60)]
    api = StandinApi.from_payloads(payloads, api_keys=[API_KEY])

    with run_standin(api) as server, make_client(server) as http_client:
        page = http_client.get(OFFSET_PATH).json()

    assert len(page) == 50


def test_offset_listing_limit_capped() -> None:
    payloads = [{"job_id": f"po_{n:03d}", "status": "running"} for n in range(250)]
    api = StandinApi.from_payloads(payloads, api_keys=[API_KEY])

    with run_standin(api) as server, make_client(server) as http_client:
        first = http_client.get(OFFSET_PATH, params={"limit": 500}).json()
        second = http_client.get(
            OFFSET_PATH, params={"limit": 500, "offset": 200}
        ).json()

    assert len(first) == 200
    assert len(second) == 50
    assert job_ids(first + second) == [f"po_{n:03d}" for n in range(250)]


def test_offset_listing_status_filter(client: httpx.Client) -> None:
    response = client.get(OFFSET_PATH, params={"status": "succeeded"})

    assert job_ids(response.json()) == ["po_new", "po_tie_a", "po_tie_b"]


def test_offset_listing_empty_status_ignored(client: httpx.Client) -> None:
    response = client.get(OFFSET_PATH, params={"status": ""})

    assert job_ids(response.json()) == NEWEST_FIRST


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"limit": "0"}, "invalid limit '0': expected an integer >= 1"),
        ({"limit": "ten"}, "invalid limit 'ten': expected an integer >= 1"),
        ({"offset": "-1"}, "invalid offset '-1': expected an integer >= 0"),
    ],
)
def test_offset_listing_invalid_params_422(
    client: httpx.Client, params: dict[str, str], detail: str
) -> None:
    response = client.get(OFFSET_PATH, params=params)

    assert response.status_code == 422
    assert response.json() == {"detail": detail}


def test_listing_id_and_state_keys() -> None:
    api = StandinApi.from_payloads(
        PAYLOADS[:1], api_keys=[API_KEY], id_key="id", status_key="state"
    )

    with run_standin(api) as server, make_client(server) as http_client:
        offset_page = http_client.get(OFFSET_PATH).json()
        cursor_page = http_client.get(CURSOR_LISTING_PATH).json()

    expected = {
        "id": "po_tie_a",
        "state": "succeeded",
        "created_at": "2026-03-01T10:00:00Z",
    }
    assert offset_page == [expected]
    assert cursor_page == {"items": [expected]}


def test_listing_style_disabled_404() -> None:
    api = StandinApi.from_payloads(
        PAYLOADS, api_keys=[API_KEY], listing_styles=["cursor"]
    )

    with run_standin(api) as server, make_client(server) as http_client:
        offset_response = http_client.get(OFFSET_PATH)
        cursor_response = http_client.get(CURSOR_LISTING_PATH)

    assert offset_response.status_code == 404
    assert offset_response.json() == {"detail": "Not Found"}
    assert cursor_response.status_code == 200


def test_listing_sees_jobs_added_later(api: StandinApi, client: httpx.Client) -> None:
    api.add_payload(
        {"job_id": "po_newest", "status": "queued", "created_at": "2027-01-01T00:00Z"}
    )

    response = client.get(OFFSET_PATH, params={"limit": 1})

    assert job_ids(response.json()) == ["po_newest"]


# ---------------------------------------------------------------------------
# Cursor listing
# ---------------------------------------------------------------------------


def test_cursor_listing_follows_pages(client: httpx.Client) -> None:
    pages: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        response = client.get(CURSOR_LISTING_PATH, params=params)
        assert response.status_code == 200
        pages.append(response.json())
        if "next_cursor" not in pages[-1]:
            break
        params = {"limit": 2, "cursor": pages[-1]["next_cursor"]}

    assert len(pages) == 3
    assert [job_ids(page["items"]) for page in pages] == [
        NEWEST_FIRST[0:2],
        NEWEST_FIRST[2:4],
        NEWEST_FIRST[4:],
    ]
    assert pages[-1] == {"items": [{"job_id": "po_undated", "status": "running"}]}


def test_cursor_listing_exact_last_page(client: httpx.Client) -> None:
    first = client.get(CURSOR_LISTING_PATH, params={"limit": 5}).json()

    assert job_ids(first["items"]) == NEWEST_FIRST
    assert "next_cursor" not in first


@pytest.mark.parametrize(
    ("last_page_cursor", "expected"),
    [("absent", {}), ("empty", {"next_cursor": ""}), ("null", {"next_cursor": None})],
)
def test_cursor_last_page_variants(
    api: StandinApi,
    client: httpx.Client,
    last_page_cursor: Any,
    expected: dict[str, Any],
) -> None:
    api.last_page_cursor = last_page_cursor
    api.cursor_items_key = "data"

    first = client.get(CURSOR_LISTING_PATH, params={"limit": 3}).json()
    last = client.get(
        CURSOR_LISTING_PATH, params={"limit": 3, "cursor": first["next_cursor"]}
    ).json()

    assert first["next_cursor"] == encode_cursor(3)
    assert last == {
        "data": [
            {
                "job_id": "po_tie_b",
                "status": "succeeded",
                "created_at": "2026-03-01T12:00:00+02:00",
            },
            {"job_id": "po_undated", "status": "running"},
        ],
        **expected,
    }


def test_cursor_listing_state_filter(client: httpx.Client) -> None:
    response = client.get(CURSOR_LISTING_PATH, params={"state": "failed"})

    assert job_ids(response.json()["items"]) == ["pl_mid"]


def test_cursor_listing_created_range(client: httpx.Client) -> None:
    params = {
        "created_after": "2026-03-01T10:00:00Z",
        "created_before": "2026-05-02T08:00:00+00:00",
    }

    response = client.get(CURSOR_LISTING_PATH, params=params)

    # Both bounds are exclusive, and po_tie_b equals the lower bound.
    assert job_ids(response.json()["items"]) == ["pl_mid"]


def test_cursor_listing_invalid_cursor_400(client: httpx.Client) -> None:
    for cursor in ("not-base64!", encode_cursor(1)[:-3] + "xyz", "YWJj"):
        response = client.get(CURSOR_LISTING_PATH, params={"cursor": cursor})

        assert response.status_code == 400
        assert response.json() == {"detail": "Invalid cursor"}


def test_cursor_listing_invalid_date_422(client: httpx.Client) -> None:
    response = client.get(CURSOR_LISTING_PATH, params={"created_after": "yesterday"})

    assert response.status_code == 422
    assert response.json() == {
        "detail": "invalid created_after 'yesterday': expected ISO-8601"
    }


def test_cursor_round_trip() -> None:
    for position in (0, 1, 199, 10**9):
        assert decode_cursor(encode_cursor(position)) == position


# ---------------------------------------------------------------------------
# Authentication
# ---------------------------------------------------------------------------

ALL_PATHS = [results_path("po_new"), *OFFSET_LISTING_PATHS, CURSOR_LISTING_PATH]


@pytest.mark.parametrize("path", ALL_PATHS)
@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wrong-key", f"Basic {API_KEY}", API_KEY],
)
def test_auth_rejected_401(
    running: RunningStandin, path: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    with make_client(running, key=None) as http_client:
        response = http_client.get(path, headers=headers)

    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid API key"}
    assert response.headers["www-authenticate"] == "Bearer"


def test_auth_scheme_case_insensitive(running: RunningStandin) -> None:
    with make_client(running, key=None) as http_client:
        response = http_client.get(
            OFFSET_PATH, headers={"Authorization": f"bearer {API_KEY}"}
        )

    assert response.status_code == 200


@pytest.mark.parametrize("path", ALL_PATHS)
def test_auth_forbidden_key_403(path: str) -> None:
    api = StandinApi.from_payloads(
        PAYLOADS, api_keys=[API_KEY, "sk_other"], forbidden_keys=["sk_revoked"]
    )

    with run_standin(api) as server:
        with make_client(server, key="sk_revoked") as http_client:
            forbidden = http_client.get(path)
        with make_client(server, key="sk_other") as http_client:
            allowed = http_client.get(path)

    assert forbidden.status_code == 403
    assert forbidden.json() == {"detail": "Not authorized"}
    assert allowed.status_code == 200


def test_auth_checked_before_faults(api: StandinApi, running: RunningStandin) -> None:
    api.add_fault(Fault.http_error(503))

    with make_client(running, key="sk_wrong") as http_client:
        rejected = http_client.get(results_path("po_new"))
    with make_client(running) as http_client:
        faulted = http_client.get(results_path("po_new"))

    assert rejected.status_code == 401
    assert faulted.status_code == 503


# ---------------------------------------------------------------------------
# Faults on the results endpoint
# ---------------------------------------------------------------------------


def test_fault_latency_per_job(api: StandinApi, client: httpx.Client) -> None:
    api.add_fault(Fault.latency(300), job_id="po_new")

    started = time.monotonic()
    response = client.get(results_path("po_new"))
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert response.json() == PAYLOADS[3]
    assert elapsed >= 0.3


def test_fault_latency_only_for_its_job(
    api: StandinApi, running: RunningStandin, client: httpx.Client
) -> None:
    api.add_fault(Fault.latency(300, count=-1), job_id="po_new")

    client.get(results_path("po_tie_a"))
    client.get(results_path("po_new"))

    assert [request.faults for request in running.requests] == [
        (),
        (Fault.latency(300, count=-1),),
    ]


def test_global_latency_option() -> None:
    api = StandinApi.from_payloads(PAYLOADS, api_keys=[API_KEY], latency_ms=200)

    with run_standin(api) as server, make_client(server) as http_client:
        started = time.monotonic()
        response = http_client.get(OFFSET_PATH)
        elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert elapsed >= 0.2


def test_fault_count_then_success(api: StandinApi, client: httpx.Client) -> None:
    api.add_fault(Fault.http_error(503, count=2), job_id="po_new")

    statuses = [client.get(results_path("po_new")).status_code for _ in range(3)]

    assert statuses == [503, 503, 200]


def test_fault_always_fires(api: StandinApi, client: httpx.Client) -> None:
    api.add_fault(Fault.http_error(500, count=-1))

    statuses = [client.get(results_path("po_new")).status_code for _ in range(5)]

    assert statuses == [500] * 5


def test_fault_count_zero_never_fires(api: StandinApi, client: httpx.Client) -> None:
    api.add_fault(Fault.http_error(500, count=0))

    assert client.get(results_path("po_new")).status_code == 200


def test_fault_job_before_global(api: StandinApi, client: httpx.Client) -> None:
    api.add_fault(Fault.http_error(502))
    api.add_fault(Fault.http_error(500), job_id="po_new")

    new_statuses = [client.get(results_path("po_new")).status_code for _ in range(3)]

    assert new_statuses == [500, 502, 200]


def test_fault_global_hits_any_job(api: StandinApi, client: httpx.Client) -> None:
    api.add_fault(Fault.http_error(502))

    first = client.get(results_path("po_missing"))
    second = client.get(results_path("po_missing"))

    assert first.status_code == 502
    assert second.status_code == 404


def test_fault_clear(api: StandinApi, client: httpx.Client) -> None:
    api.add_fault(Fault.http_error(503, count=-1))
    api.add_fault(Fault.http_error(503, count=-1), job_id="po_new")
    api.add_listing_fault(Fault.http_error(503, count=-1))
    api.clear_faults()

    assert client.get(results_path("po_new")).status_code == 200
    assert client.get(OFFSET_PATH).status_code == 200


def test_fault_429_retry_after_seconds(api: StandinApi, client: httpx.Client) -> None:
    api.add_fault(Fault.rate_limited(7), job_id="po_new")

    limited = client.get(results_path("po_new"))
    retried = client.get(results_path("po_new"))

    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "7"
    assert limited.json() == {"detail": "Too Many Requests"}
    assert retried.status_code == 200


def test_fault_429_retry_after_http_date(api: StandinApi, client: httpx.Client) -> None:
    api.add_fault(Fault.rate_limited(30, http_date=True))

    before = datetime.now(UTC).replace(microsecond=0)
    response = client.get(results_path("po_new"))
    after = datetime.now(UTC)

    assert response.status_code == 429
    header = response.headers["retry-after"]
    assert header.endswith(" GMT")
    retry_at = parsedate_to_datetime(header)
    assert (retry_at - before).total_seconds() >= 30
    assert (retry_at - after).total_seconds() <= 30


def test_fault_retry_after_verbatim(api: StandinApi, client: httpx.Client) -> None:
    api.add_fault(Fault.rate_limited("soon"))

    response = client.get(results_path("po_new"))

    assert response.headers["retry-after"] == "soon"


def test_fault_429_without_retry_after(api: StandinApi, client: httpx.Client) -> None:
    api.add_fault(Fault.rate_limited(None))

    response = client.get(results_path("po_new"))

    assert response.status_code == 429
    assert "retry-after" not in response.headers


@pytest.mark.parametrize(
    ("status", "phrase"),
    [
        (408, "Request Timeout"),
        (500, "Internal Server Error"),
        (502, "Bad Gateway"),
        (503, "Service Unavailable"),
    ],
)
def test_fault_http_error_status(
    api: StandinApi, client: httpx.Client, status: int, phrase: str
) -> None:
    api.add_fault(Fault.http_error(status), job_id="po_new")

    response = client.get(results_path("po_new"))

    assert response.status_code == status
    assert response.json() == {"detail": phrase}
    assert response.headers["content-type"] == "application/json"


def test_fault_http_error_custom_body(api: StandinApi, client: httpx.Client) -> None:
    html = b"<html><body>502 Bad Gateway</body></html>"
    api.add_fault(
        Fault.http_error(502, body=html, content_type="text/html", retry_after=3)
    )

    response = client.get(results_path("po_new"))

    assert response.status_code == 502
    assert response.content == html
    assert response.headers["content-type"] == "text/html"
    assert response.headers["retry-after"] == "3"


def test_fault_slow_body_trickles(api: StandinApi, client: httpx.Client) -> None:
    api.add_fault(Fault.slow_body(500, chunks=5), job_id="po_new")

    started = time.monotonic()
    response = client.get(results_path("po_new"))
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert response.json() == PAYLOADS[3]
    assert elapsed >= 0.5


def test_fault_slow_body_read_timeout(api: StandinApi, running: RunningStandin) -> None:
    # Each of the 2 chunks waits 1 s, longer than the 0.2 s read timeout.
    api.add_fault(Fault.slow_body(2000, chunks=2), job_id="po_new")
    timeout = httpx.Timeout(5, read=0.2)

    with make_client(running) as http_client:
        with pytest.raises(httpx.ReadTimeout):
            http_client.get(results_path("po_new"), timeout=timeout)
        response = http_client.get(results_path("po_new"))

    assert response.status_code == 200


def test_fault_truncated_body_httpx(api: StandinApi, client: httpx.Client) -> None:
    api.add_fault(Fault.truncated_body(), job_id="po_new")

    with pytest.raises(httpx.RemoteProtocolError):
        client.get(results_path("po_new"))
    response = client.get(results_path("po_new"))

    assert response.status_code == 200
    assert response.json() == PAYLOADS[3]


def test_fault_truncated_body_raw(api: StandinApi, running: RunningStandin) -> None:
    body = api.body("po_new")
    api.add_fault(Fault.truncated_body(0.25), job_id="po_new")

    head, received = raw_get(running, results_path("po_new"))

    assert head.startswith(b"HTTP/1.1 200 ")
    assert header_value(head, "Content-Length") == str(len(body))
    assert received == body[: len(body) // 4]


def test_fault_invalid_json(api: StandinApi, client: httpx.Client) -> None:
    api.add_fault(Fault.invalid_json(), job_id="po_new")

    response = client.get(results_path("po_new"))

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_fault_invalid_json_custom_body(api: StandinApi, client: httpx.Client) -> None:
    api.add_fault(Fault.invalid_json(b""))

    response = client.get(results_path("po_new"))

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "0"


def test_fault_not_found_for_listed_job(api: StandinApi, client: httpx.Client) -> None:
    api.add_fault(Fault.not_found(), job_id="po_new")

    listed = job_ids(client.get(OFFSET_PATH).json())
    missing = client.get(results_path("po_new"))
    found = client.get(results_path("po_new"))

    assert "po_new" in listed
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Job not found"}
    assert found.status_code == 200


def test_fault_latency_then_error(
    api: StandinApi, running: RunningStandin, client: httpx.Client
) -> None:
    latency = Fault.latency(200)
    error = Fault.http_error(503)
    api.add_fault(latency, job_id="po_new")
    api.add_fault(error, job_id="po_new")

    started = time.monotonic()
    response = client.get(results_path("po_new"))
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert elapsed >= 0.2
    assert running.requests[-1].faults == (latency, error)


# ---------------------------------------------------------------------------
# Faults on listing pages
# ---------------------------------------------------------------------------


def test_listing_fault_on_one_page(api: StandinApi, client: httpx.Client) -> None:
    api.add_listing_fault(Fault.http_error(503), page=1)

    first = client.get(OFFSET_PATH, params={"limit": 2, "offset": 0})
    failed = client.get(OFFSET_PATH, params={"limit": 2, "offset": 2})
    retried = client.get(OFFSET_PATH, params={"limit": 2, "offset": 2})

    assert first.status_code == 200
    assert failed.status_code == 503
    assert failed.json() == {"detail": "Service Unavailable"}
    assert retried.status_code == 200
    assert job_ids(retried.json()) == NEWEST_FIRST[2:4]


def test_listing_fault_cursor_page(api: StandinApi, client: httpx.Client) -> None:
    api.add_listing_fault(Fault.rate_limited(2), page=1)

    first = client.get(CURSOR_LISTING_PATH, params={"limit": 2}).json()
    params = {"limit": 2, "cursor": first["next_cursor"]}
    limited = client.get(CURSOR_LISTING_PATH, params=params)
    retried = client.get(CURSOR_LISTING_PATH, params=params)

    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2"
    assert job_ids(retried.json()["items"]) == NEWEST_FIRST[2:4]


def test_listing_fault_every_page(api: StandinApi, client: httpx.Client) -> None:
    api.add_listing_fault(Fault.invalid_json(count=2))

    offset_response = client.get(OFFSET_PATH)
    cursor_response = client.get(CURSOR_LISTING_PATH)
    recovered = client.get(OFFSET_PATH)

    assert offset_response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(offset_response.content)
    with pytest.raises(json.JSONDecodeError):
        json.loads(cursor_response.content)
    assert job_ids(recovered.json()) == NEWEST_FIRST


def test_listing_fault_truncated(api: StandinApi, client: httpx.Client) -> None:
    api.add_listing_fault(Fault.truncated_body())

    with pytest.raises(httpx.RemoteProtocolError):
        client.get(OFFSET_PATH)


def test_listing_fault_slow_body(api: StandinApi, client: httpx.Client) -> None:
    api.add_listing_fault(Fault.slow_body(300, chunks=3))

    started = time.monotonic()
    response = client.get(OFFSET_PATH)
    elapsed = time.monotonic() - started

    assert job_ids(response.json()) == NEWEST_FIRST
    assert elapsed >= 0.3


def test_listing_fault_not_found(api: StandinApi, client: httpx.Client) -> None:
    api.add_listing_fault(Fault.not_found())

    response = client.get(CURSOR_LISTING_PATH)

    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_listing_fault_leaves_results_alone(
    api: StandinApi, client: httpx.Client
) -> None:
    api.add_listing_fault(Fault.http_error(500, count=-1))

    assert client.get(results_path("po_new")).status_code == 200


# ---------------------------------------------------------------------------
# Fault configuration
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arguments",
    [
        {"kind": "explode"},
        {"kind": "http_error", "count": -2},
        {"kind": "http_error", "status": 200},
        {"kind": "http_error", "status": 600},
        {"kind": "latency", "latency_ms": -1},
        {"kind": "http_error", "retry_after": -5},
        {"kind": "http_error", "retry_after": "soon", "retry_after_http_date": True},
        {"kind": "slow_body", "duration_ms": -1},
        {"kind": "slow_body", "chunks": 0},
        {"kind": "truncated_body", "sent_fraction": 1.0},
        {"kind": "truncated_body", "sent_fraction": -0.1},
    ],
)
def test_fault_rejects_invalid_fields(arguments: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Fault(**arguments)


def test_fault_from_dict() -> None:
    fault = Fault.from_dict(
        {"kind": "http_error", "status": 502, "count": -1, "body": "<html/>"}
    )

    assert fault == Fault(kind="http_error", status=502, count=-1, body=b"<html/>")


@pytest.mark.parametrize(
    "data",
    [
        {"status": 502},
        {"kind": "http_error", "colour": "red"},
        {"kind": "http_error", "count": "3"},
        {"kind": "http_error", "count": True},
        {"kind": "slow_body", "duration_ms": 1.5},
        {"kind": "http_error", "retry_after": [1]},
    ],
)
def test_fault_from_dict_rejects(data: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Fault.from_dict(data)


def test_faults_from_json(api: StandinApi, client: httpx.Client) -> None:
    entries = [
        {"kind": "http_error", "status": 429, "retry_after": 1, "job_id": "po_new"},
        {"kind": "http_error", "status": 503, "scope": "listing", "page": 0},
    ]

    added = add_faults_from_json(api, entries)

    assert added == 2
    assert client.get(results_path("po_new")).status_code == 429
    assert client.get(results_path("po_new")).status_code == 200
    assert client.get(OFFSET_PATH).status_code == 503
    assert client.get(OFFSET_PATH).status_code == 200


@pytest.mark.parametrize(
    "entries",
    [
        {"kind": "latency"},
        [["latency"]],
        [{"kind": "latency", "scope": "everywhere"}],
        [{"kind": "latency", "scope": "listing", "job_id": "po_new"}],
        [{"kind": "latency", "page": 1}],
        [{"kind": "latency", "scope": "listing", "page": "1"}],
        [{"kind": "latency", "job_id": 7}],
        [{"kind": "nonsense"}],
    ],
)
def test_faults_from_json_rejects(api: StandinApi, entries: object) -> None:
    with pytest.raises(ValueError):
        add_faults_from_json(api, entries)


def test_listing_fault_rejects_negative_page(api: StandinApi) -> None:
    with pytest.raises(ValueError):
        api.add_listing_fault(Fault.latency(1), page=-1)


# ---------------------------------------------------------------------------
# Request log
# ---------------------------------------------------------------------------


def test_request_log_records_request(running: RunningStandin) -> None:
    with make_client(running) as http_client:
        http_client.get(
            CURSOR_LISTING_PATH,
            params={"limit": 2, "created_after": "2026-01-01T00:00:00+02:00"},
            headers={"X-Trace": "abc"},
        )

    [request] = running.requests
    assert request.method == "GET"
    assert request.raw_path == CURSOR_LISTING_PATH
    assert request.query == "limit=2&created_after=2026-01-01T00%3A00%3A00%2B02%3A00"
    assert request.params == {
        "limit": ["2"],
        "created_after": ["2026-01-01T00:00:00+02:00"],
    }
    assert request.header("authorization") == f"Bearer {API_KEY}"
    assert request.header("X-TRACE") == "abc"
    assert ("Authorization", f"Bearer {API_KEY}") in request.headers
    assert request.status == 200
    assert request.faults == ()


def test_request_log_keeps_encoded_path(running: RunningStandin) -> None:
    with make_client(running) as http_client:
        http_client.get(results_path("../admin"))

    [request] = running.requests
    assert request.raw_path == "/api/policy-optimization/online/jobs/..%2Fadmin/results"
    assert request.status == 404


def test_request_log_records_rejected(running: RunningStandin) -> None:
    with make_client(running, key=None) as http_client:
        http_client.get(OFFSET_PATH)

    [request] = running.requests
    assert request.header("Authorization") is None
    assert request.status == 401


def test_request_log_concurrent(running: RunningStandin) -> None:
    errors: list[BaseException] = []

    def fetch(job_id: str) -> None:
        try:
            with make_client(running) as http_client:
                for _ in range(5):
                    http_client.get(results_path(job_id)).raise_for_status()
        except BaseException as error:
            errors.append(error)

    threads = [
        threading.Thread(target=fetch, args=(job_id,)) for job_id in NEWEST_FIRST * 4
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(running.requests) == 100
    assert {request.status for request in running.requests} == {200}


def test_request_log_clear(api: StandinApi, client: httpx.Client) -> None:
    client.get(OFFSET_PATH)
    api.request_log.clear()
    client.get(CURSOR_LISTING_PATH)

    assert [request.raw_path for request in api.requests] == [CURSOR_LISTING_PATH]
    assert len(api.request_log) == 1


# ---------------------------------------------------------------------------
# Corpus loading
# ---------------------------------------------------------------------------


def test_corpus_from_directory(tmp_path: Path) -> None:
    first = b'{"job_id": "po_b", "status": "succeeded",\n "created_at": "2026-01-02"}'
    second = '{"status": "failed", "note": "ümlaut"}'.encode()
    (tmp_path / "2.json").write_bytes(first)
    (tmp_path / "1_no_id.json").write_bytes(second)
    (tmp_path / "ignored.txt").write_text("not a payload")

    api = StandinApi.from_directory(tmp_path, api_keys=[API_KEY])

    assert api.job_ids() == ["1_no_id", "po_b"]
    with run_standin(api) as server, make_client(server) as http_client:
        served = http_client.get(results_path("1_no_id")).content
        listing = http_client.get(OFFSET_PATH).json()
    assert served == second
    assert listing == [
        {"job_id": "po_b", "status": "succeeded", "created_at": "2026-01-02"},
        {"job_id": "1_no_id", "status": "failed"},
    ]


def test_corpus_directory_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not found"):
        StandinApi.from_directory(tmp_path / "missing")
    (tmp_path / "bad.json").write_bytes(b"{not json")
    with pytest.raises(ValueError, match="invalid JSON"):
        StandinApi.from_directory(tmp_path)
    (tmp_path / "bad.json").write_bytes(b"[1, 2]")
    with pytest.raises(ValueError, match="expected an object"):
        StandinApi.from_directory(tmp_path)


def test_corpus_fields_in_result_container() -> None:
    payload = {
        "result": {"job_id": "po_nested", "status": "queued"},
        "metadata": {"created_at": "2026-02-01T00:00:00Z"},
    }

    api = StandinApi.from_payloads([payload])

    assert api.job_ids() == ["po_nested"]
    assert api.summaries() == [
        {
            "job_id": "po_nested",
            "status": "queued",
            "created_at": "2026-02-01T00:00:00Z",
        }
    ]


def test_corpus_duplicate_id(api: StandinApi) -> None:
    with pytest.raises(ValueError, match="duplicate job id"):
        api.add_payload({"job_id": "po_new", "status": "failed"})

    api.add_payload({"job_id": "po_tie_a", "status": "failed"}, replace=True)

    assert api.job_ids()[0] == "po_tie_a"
    assert json.loads(api.body("po_tie_a")) == {
        "job_id": "po_tie_a",
        "status": "failed",
    }


def test_corpus_payload_without_id(api: StandinApi) -> None:
    with pytest.raises(ValueError, match="no string job_id"):
        api.add_payload({"job_id": 42})

    assert api.add_payload({"status": "running"}, job_id="po_given") == "po_given"


@pytest.mark.parametrize(
    "options",
    [
        {"api_keys": []},
        {"api_keys": [""]},
        {"listing_styles": ["graphql"]},
        {"offset_envelope": "results"},
        {"last_page_cursor": "missing"},
        {"id_key": "uuid"},
        {"latency_ms": -1},
        {"default_limit": 0},
        {"default_limit": 201},
    ],
)
def test_api_rejects_invalid_options(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        StandinApi(**options)


# ---------------------------------------------------------------------------
# Compression
# ---------------------------------------------------------------------------


def test_gzip_response(api: StandinApi, running: RunningStandin) -> None:
    api.gzip_responses = True
    body = api.body("po_new")

    with make_client(running) as http_client:
        with http_client.stream(
            "GET", results_path("po_new"), headers={"Accept-Encoding": "gzip"}
        ) as response:
            raw = b"".join(response.iter_raw())
        plain = http_client.get(
            results_path("po_new"), headers={"Accept-Encoding": "identity"}
        )
        declined = http_client.get(
            results_path("po_new"), headers={"Accept-Encoding": "gzip;q=0"}
        )

    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["content-length"] == str(len(raw))
    assert gzip.decompress(raw) == body
    assert "content-encoding" not in plain.headers
    assert plain.content == body
    assert "content-encoding" not in declined.headers


# ---------------------------------------------------------------------------
# Server lifecycle and script
# ---------------------------------------------------------------------------


def test_run_standin_binds_loopback(api: StandinApi) -> None:
    with run_standin(api) as server:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.api is api
        port = server.port

    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}{OFFSET_PATH}", timeout=2)


def test_run_standin_stops_during_slow_body(api: StandinApi) -> None:
    api.add_fault(Fault.slow_body(30_000, chunks=2, count=-1))
    api.add_fault(Fault.latency(30_000, count=-1), job_id="po_tie_a")
    outcomes: list[str] = []

    def fetch(running: RunningStandin, job_id: str) -> None:
        try:
            with make_client(running) as http_client:
                http_client.get(results_path(job_id), timeout=60)
            outcomes.append("completed")
        except httpx.HTTPError:
            outcomes.append("failed")

    with run_standin(api) as server:
        threads = [
            threading.Thread(target=fetch, args=(server, job_id))
            for job_id in ("po_new", "po_tie_a")
        ]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        started = time.monotonic()
    stop_seconds = time.monotonic() - started
    for thread in threads:
        thread.join(timeout=10)

    assert stop_seconds < 5
    assert outcomes == ["failed", "failed"]


def start_script(
    corpus: Path, *args: str, env: dict[str, str]
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), "--corpus", str(corpus), "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_script_serves_corpus(tmp_path: Path) -> None:
    (tmp_path / "job.json").write_text('{"job_id": "po_1", "status": "running"}')
    secret = "sk_script_secret_123"
    env = {**os.environ, "SYNTH_API_KEY": secret}

    process = start_script(tmp_path, "--listing", "cursor", "--verbose", env=env)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        headers = {"Authorization": f"Bearer {secret}"}
        with httpx.Client(base_url=url, headers=headers, timeout=5) as http_client:
            results = http_client.get(results_path("po_1"))
            cursor_listing = http_client.get(CURSOR_LISTING_PATH)
            offset_listing = http_client.get(OFFSET_PATH)
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=10)

    assert url.startswith("http://127.0.0.1:")
    assert results.content == b'{"job_id": "po_1", "status": "running"}'
    assert cursor_listing.json() == {"items": [{"job_id": "po_1", "status": "running"}]}
    assert offset_listing.status_code == 404
    assert process.returncode == 0
    assert "serving 1 jobs" in stderr
    assert secret not in stdout
    assert secret not in stderr


def test_script_faults_file(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "job.json").write_text('{"job_id": "po_1", "status": "running"}')
    faults = tmp_path / "faults.json"
    faults.write_text('[{"kind": "http_error", "status": 503, "job_id": "po_1"}]')
    env = {**os.environ, "SYNTH_API_KEY": API_KEY}

    process = start_script(corpus, "--faults", str(faults), env=env)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        headers = {"Authorization": f"Bearer {API_KEY}"}
        with httpx.Client(base_url=url, headers=headers, timeout=5) as http_client:
            statuses = [
                http_client.get(results_path("po_1")).status_code for _ in range(2)
            ]
    finally:
        process.terminate()
        process.communicate(timeout=10)

    assert statuses == [503, 200]


def test_script_requires_key(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if name != "SYNTH_API_KEY"}

    process = start_script(tmp_path, env=env)
    _, stderr = process.communicate(timeout=10)

    assert process.returncode == 2
    assert "missing API key" in stderr


def test_script_rejects_missing_corpus(tmp_path: Path) -> None:
    env = {**os.environ, "SYNTH_API_KEY": API_KEY}

    process = start_script(tmp_path / "missing", env=env)
    _, stderr = process.communicate(timeout=10)

    assert process.returncode == 2
    assert "corpus directory not found" in stderr
