"""Fixtures for the Lambda handler and index template tests.

* ``samples``: the real AWS sample records in ``<repo>/../shared/samples``.
* ``osmem`` (session): one osmem-server whose base cluster holds logpipe's index templates
  (PUT ``_index_template/...`` first, as provisioning does); ``opensearch`` (per test): a fresh
  clone of it, so every test starts from "templates installed, no indices". The project
  disables osmem's own pytest plugin (``-p no:osmem``), hence these fixtures.
* ``fault_proxy``: a small HTTP proxy in front of the clone that injects scripted faults and
  records every request, so retries are exercised over real HTTP.
* ``indexer_env``: the environment the CloudTrail indexer reads, pointed at the clone, unsigned,
  with millisecond backoffs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from osmem_server import OsmemServer

from tests.support import index_templates

from .support import SAMPLES, FaultProxy, Search


@pytest.fixture(scope="session")
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip(f"sample records not found at {SAMPLES}")
    return SAMPLES


@pytest.fixture(scope="session")
def osmem() -> Iterator[OsmemServer]:
    """One osmem-server for the session, logpipe's templates in its base cluster (inherited by
    every clone)."""
    server = OsmemServer.start(japanese=False)
    try:
        for name, body in index_templates().items():
            result = server.request("PUT", f"/_index_template/{name}", body)
            assert result.get("acknowledged") is True, (name, result)
        yield server
    finally:
        server.close()


@pytest.fixture
def opensearch(osmem: OsmemServer) -> Iterator[Search]:
    clone = osmem.clone()
    try:
        yield Search(clone.url)
    finally:
        clone.close()


@pytest.fixture
def fault_proxy(opensearch: Search) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream=opensearch.url)
    server = ThreadingHTTPServer(("127.0.0.1", 0), proxy.handler_class())
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


_INDEXER_ENV = (
    "OPENSEARCH_ENDPOINT", "OPENSEARCH_AUTH", "INDEX_PREFIX", "MAX_BULK_BYTES", "FAILED_BUCKET",
    "FAILED_PREFIX", "MAX_ATTEMPTS", "RETRY_BASE_MS", "RETRY_MAX_MS", "SAFETY_MARGIN_MS",
    "HTTP_TIMEOUT_S",
)  # fmt: skip


@pytest.fixture
def indexer_env(monkeypatch: pytest.MonkeyPatch, opensearch: Search) -> Callable[..., None]:
    """Point the indexer at the clone (unsigned, fast retries); call it to override values
    (``None`` unsets one)."""
    for name in _INDEXER_ENV:
        monkeypatch.delenv(name, raising=False)
    base = {
        "OPENSEARCH_ENDPOINT": opensearch.url,
        "OPENSEARCH_AUTH": "none",
        "AWS_REGION": "us-east-1",
        "RETRY_BASE_MS": "1",
        "RETRY_MAX_MS": "5",
        "SAFETY_MARGIN_MS": "1000",
    }

    def apply(**overrides: str | None) -> None:
        for name, value in {**base, **overrides}.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)

    apply()
    return apply


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials for moto and SigV4 signing; never a real account."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDLOGPIPETEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "logpipe-test-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "logpipe-test-token")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
