"""The real command on the sandbox: the OpenSearch side alone, after `up all`, and its teardown."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.conftest import json_out, run_logpipe
from tests.support import write_calls

pytestmark = pytest.mark.e2e

API = "/_plugins/_security/api"
OTHER_TEAM = "arn:aws:iam::123456789012:role/other-team-ingest"


def master(sandbox: dict[str, Any]) -> tuple[str, str]:
    password = (Path(sandbox["env"]["LOGPIPE_SANDBOX_DIR"]) / "master-password").read_text().strip()
    return ("admin", password)


def get_mapping(sandbox: dict[str, Any], role: str) -> dict[str, Any] | None:
    reply = requests.get(f"{sandbox['opensearch_url']}{API}/rolesmapping/{role}", auth=master(sandbox), timeout=30)
    return None if reply.status_code == 404 else reply.json()[role]


def test_up_opensearch_alone_then_again_without_a_write(sandbox: dict[str, Any], tmp_path: Path) -> None:
    env = sandbox["env"]
    first = run_logpipe("--sandbox", "-o", "json", "up", "opensearch", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    kinds = {c["kind"] for c in json_out(first)["changes"]}
    assert {
        "opensearch-access-policy",
        "opensearch-index-template",
        "opensearch-index-pattern",
        "opensearch-role",
        "opensearch-role-mapping",
    } <= kinds

    second = run_logpipe("--sandbox", "-v", "up", "opensearch", env=env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert write_calls(second) == 0, second.stderr
    # The data plane is counted too: its reads show under "opensearch-http".
    assert re.search(r"opensearch-http: [1-9]\d* read, 0 write", second.stderr), second.stderr


def test_up_all_then_status_shows_patterns_and_mappings(sandbox: dict[str, Any], tmp_path: Path) -> None:
    env = sandbox["env"]
    done = run_logpipe("--sandbox", "-o", "json", "up", "all", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr

    status = run_logpipe("--sandbox", "-o", "json", "status", env=env, cwd=tmp_path)
    report = json_out(status)
    # Nothing was sent yet, so freshness is honestly "no index" and status is degraded (1).
    assert status.returncode == 1, status.stderr
    rows = {(r["pipeline"], r["check"]): r for r in report["health"]}
    pieces = {(r["kind"], r["name"]): r["state"] for r in report["resources"] if r["kind"].startswith("opensearch-")}
    for pipeline in ("cloudtrail", "dns", "waf", "flowlog", "securityhub"):
        assert rows[(pipeline, "freshness")]["value"] == "no index"
        assert pieces[("opensearch-index-pattern", f"logpipe-{pipeline}")] == "ok"
        assert pieces[("opensearch-index-template", f"logpipe-{pipeline}")] == "ok"
        assert pieces[("opensearch-role-mapping", pipeline)] == "ok"
    assert set(pieces.values()) <= {"ok", "external"}, pieces
    summary = {row["pipeline"]: row for row in report["pipelines"]}
    assert summary["waf"]["ok"] == summary["waf"]["total"]
    assert "freshness: no index" in summary["waf"]["problems"]


def test_all_access_mode_keeps_an_administrators_entries_through_up_and_teardown(
    sandbox: dict[str, Any], tmp_path: Path
) -> None:
    env = sandbox["env"]
    config = tmp_path / "logpipe.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "prefix": "demogo",
                "region": "ap-northeast-2",
                "opensearch": {"domain": "demogo-opensearch", "role_mapping": "all_access"},
            }
        )
    )
    ops = [
        {"op": "add", "path": "/users/-", "value": "alice"},
        {"op": "add", "path": "/backend_roles", "value": [OTHER_TEAM]},
    ]
    reply = requests.patch(
        f"{sandbox['opensearch_url']}{API}/rolesmapping/all_access", json=ops, auth=master(sandbox), timeout=30
    )
    assert reply.status_code == 200, reply.text
    before = get_mapping(sandbox, "all_access")

    done = run_logpipe("--sandbox", "--config", str(config), "up", "opensearch", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "warning: opensearch.role_mapping is 'all_access'" in done.stderr
    during = get_mapping(sandbox, "all_access")
    assert during is not None and during["users"] == ["admin", "alice"]
    assert during["backend_roles"][0] == OTHER_TEAM and len(during["backend_roles"]) > 1
    # Switching to all_access took logpipe's entries out of its own roles' mappings.
    for pipeline in ("cloudtrail", "dns", "waf", "flowlog", "securityhub"):
        writers = get_mapping(sandbox, f"logpipe-demogo-{pipeline}-writer")
        assert writers is None or not writers["backend_roles"]

    down = run_logpipe("--sandbox", "--config", str(config), "teardown", "--yes", "all", env=env, cwd=tmp_path)
    assert down.returncode == 0, down.stderr
    assert get_mapping(sandbox, "all_access") == before
