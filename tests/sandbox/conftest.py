"""Fixtures for the sandbox's OpenSearch stand-in: one osmem-server per session, a clone per test."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from logpipe.sandbox.opensearch_standin import OpenSearchStandin


@pytest.fixture
def osmem_url(osmem_base: Any) -> Iterator[str]:
    """An empty cluster of this test's own."""
    clone = osmem_base.clone()
    try:
        yield clone.url
    finally:
        clone.close()


@pytest.fixture
def make_standin(osmem_url: str) -> Iterator[Callable[..., OpenSearchStandin]]:
    """Start stand-ins (default upstream: this test's cluster); all are stopped when the test ends."""
    started: list[OpenSearchStandin] = []

    def make(upstream: str | None = None, **kwargs: Any) -> OpenSearchStandin:
        standin = OpenSearchStandin(upstream or osmem_url, **kwargs)
        standin.start()
        started.append(standin)
        return standin

    yield make
    for standin in started:
        standin.stop()


@dataclass
class EchoUpstream:
    """A fake upstream that records what reached it and answers with a fixed response."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def echo_upstream() -> Iterator[EchoUpstream]:
    echo = EchoUpstream()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            echo.received.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": self.rfile.read(length),
                }
            )
            body = b'{"echo":true,"parts":["a","b","c"]}'
            self.send_response(207, "Multi-Status")
            self.send_header("Content-Type", "application/vnd.echo+json")
            self.send_header("X-Upstream", "echo")
            if "chunked" in self.path:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for piece in (body[:10], body[10:]):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    echo.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield echo
    finally:
        server.shutdown()
        server.server_close()
