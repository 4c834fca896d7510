"""The real OpenSearch engine with its security plugin (issue 15): it starts, answers, and stops.

Skipped with the reason when a real engine cannot run here (see ``real_engine.unavailable_reason``).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import requests

from logpipe.sandbox import real_engine
from tests.real_engine import VERSIONS, Engine, engine_for

ROLES_MAPPING = "/_plugins/_security/api/rolesmapping/all_access"


@pytest.fixture(scope="session", params=sorted(VERSIONS.values()))
def shared_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return engine_for(request.param, tmp_path_factory)


def test_shared_engine_is_green_and_its_security_plugin_asks_for_credentials(shared_engine: Engine) -> None:
    health = shared_engine.request("GET", "/_cluster/health")
    assert health.status_code == 200, health.text
    assert health.json()["status"] in ("green", "yellow")
    assert shared_engine.request("GET", "/").json()["version"]["number"].startswith(shared_engine.version[:4])

    mapping = shared_engine.request("GET", ROLES_MAPPING)
    assert mapping.status_code == 200, mapping.text
    assert "all_access" in mapping.json()
    assert shared_engine.request("GET", ROLES_MAPPING, auth=False).status_code == 401
    wrong = requests.get(
        f"{shared_engine.url}{ROLES_MAPPING}", auth=("admin", "admin"), verify=shared_engine.ca_cert, timeout=30
    )
    assert wrong.status_code == 401, "the demo's default admin password must not work"


def test_own_engine_starts_answers_and_stops(tmp_path_factory: pytest.TempPathFactory) -> None:
    # One test rather than a module fixture shared by several: xdist may hand a module's tests to
    # different workers, and each would start its own node.
    version = VERSIONS["2.19"]
    reason = real_engine.unavailable_reason((version,))
    if reason:
        pytest.skip(f"real OpenSearch {version}: {reason}")
    engine = real_engine.start(
        version,
        workdir=tmp_path_factory.mktemp("real-engine"),
        admin_password=real_engine.new_password(),
        watch_pid=os.getpid(),
    )
    try:
        assert engine.url.startswith("https://127.0.0.1:")
        health = requests.get(f"{engine.url}/_cluster/health", auth=engine.auth, verify=str(engine.ca_cert), timeout=30)
        assert health.json()["status"] == "green"
        mapping = requests.get(f"{engine.url}{ROLES_MAPPING}", auth=engine.auth, verify=str(engine.ca_cert), timeout=30)
        assert mapping.status_code == 200, mapping.text
        anonymous = requests.get(f"{engine.url}{ROLES_MAPPING}", verify=str(engine.ca_cert), timeout=30)
        assert anonymous.status_code == 401
        home = real_engine.cached(version)
        assert home is not None and not (home / "data").exists(), "the cached install stays untouched"
    finally:
        engine.stop()
    assert not engine.alive()
    assert not real_engine.stop(engine.pid), "stopping a node that has gone is a no-op"
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", engine.http_port)) != 0


def test_turned_off_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGPIPE_REAL_ENGINE", "0")
    monkeypatch.setattr(real_engine, "_reasons", {})
    assert real_engine.unavailable_reason() == "real OpenSearch turned off by LOGPIPE_REAL_ENGINE=0"


def test_node_settings_replace_the_demo_lines_rather_than_repeat_them(tmp_path: Path) -> None:
    # OpenSearch refuses a setting given twice, and the demo configuration sets some of ours.
    original = tmp_path / "original.yml"
    original.write_text(
        "#http.port: 9200\n"
        "plugins.security.audit.type: internal_opensearch\n"
        "plugins.security.system_indices.indices: [.a, .b,\n"
        "  .c]\n"
        "plugins.security.authcz.admin_dn:\n"
        "  - CN=kirk,OU=client,O=client,L=test, C=de\n"
        "node.max_local_storage_nodes: 3\n"
    )
    target = tmp_path / "opensearch.yml"
    real_engine._write_opensearch_yml(target, original, tmp_path, 9201, 9301)
    lines = target.read_text().splitlines()
    keys = [line.split(":", 1)[0] for line in lines if line[:1] not in ("", " ", "#")]
    assert len(keys) == len(set(keys))
    assert "plugins.security.audit.type: noop" in lines
    assert "http.port: 9201" in lines
    assert "  .c]" in lines and "  - CN=kirk,OU=client,O=client,L=test, C=de" in lines
    assert "node.max_local_storage_nodes: 3" not in lines
