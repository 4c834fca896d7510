"""A throttled or busy domain (429, 503) slows a run down and never fails it within the retry budget;
past the budget, the error names the request."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from logpipe.opensearch import client as os_client


class Throttling:
    """Answers ``failures`` requests with ``status``, then 200 with an empty template listing."""

    def __init__(self, failures: int, status: int = 429) -> None:
        self.failures = failures
        self.status = status
        self.seen = 0

    def handler(self) -> type[BaseHTTPRequestHandler]:
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                state.seen += 1
                if state.seen <= state.failures:
                    body = {"error": {"type": "es_rejected_execution_exception", "reason": "too many"}}
                    status = state.status
                else:
                    body, status = {"index_templates": []}, 200
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return None

        return Handler


@pytest.fixture
def domain(request: pytest.FixtureRequest) -> Iterator[tuple[Throttling, str]]:
    state = Throttling(*request.param)
    server = ThreadingHTTPServer(("127.0.0.1", 0), state.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def plane(url: str, slept: list[float]) -> os_client.DataPlane:
    raw = os_client.connect(url, auth=None, sleep=slept.append)
    return os_client.DataPlane(raw, base_url=url, auth_kind="basic")


@pytest.mark.parametrize("domain", [(3, 429), (2, 503)], indirect=True)
def test_throttling_is_ridden_out_with_growing_pauses(domain: tuple[Throttling, str]) -> None:
    state, url = domain
    slept: list[float] = []

    found = plane(url, slept).call(lambda raw: raw.indices.get_index_template(name="logpipe-*"), what="GET templates")

    assert found == {"index_templates": []}
    assert state.seen == state.failures + 1
    # Exponential backoff with jitter: the n-th pause lies in [c/2, c], c = base * 2^(n-1).
    assert len(slept) == state.failures
    for n, pause in enumerate(slept):
        ceiling = os_client.BACKOFF_BASE_SECONDS * 2**n
        assert ceiling / 2 <= pause <= ceiling, (n, pause)


@pytest.mark.parametrize("domain", [(100, 429)], indirect=True)
def test_past_the_budget_the_error_names_the_request(domain: tuple[Throttling, str]) -> None:
    state, url = domain
    slept: list[float] = []

    with pytest.raises(os_client.OpenSearchError, match=r"GET /_index_template/logpipe-\* answered 429: too many"):
        plane(url, slept).call(
            lambda raw: raw.indices.get_index_template(name="logpipe-*"), what="GET /_index_template/logpipe-*"
        )
    assert state.seen == os_client.MAX_ATTEMPTS
