"""A pipeline is one declaration that stands on its own, on a fresh sandbox where `up opensearch`
never ran: `up P` alone gives typed, searchable data; verify and status say at once why not."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import json_out, run_logpipe
from tests.support import write_calls

pytestmark = pytest.mark.e2e

#: pipeline -> (index pattern, time field, marker field) as the user searches them.
PIPELINES = {
    "cloudtrail": ("cwl-*", "eventTime", "eventID"),
    "dns": ("dns-log-*", "query_timestamp", "query_name"),
    "waf": ("waf-log-*", "timestamp", "httpRequest.requestId"),
    "flowlog": ("vpc-flowlog-*", "start", "interface-id"),
    "securityhub": ("aws-securityhub-findings-logs*", "CreatedAt", "Id"),
}


def master(sandbox: dict[str, Any]) -> tuple[str, str]:
    return ("admin", (Path(sandbox["env"]["LOGPIPE_SANDBOX_DIR"]) / "master-password").read_text().strip())


def get(sandbox: dict[str, Any], path: str) -> Any:
    reply = requests.get(sandbox["opensearch_url"] + path, auth=master(sandbox), timeout=30)
    return reply.json() if reply.ok else None


def field_types(sandbox: dict[str, Any], pattern: str, field: str) -> set[str]:
    found = get(sandbox, f"/{pattern}/_mapping/field/{field}") or {}
    leaf = field.rsplit(".", 1)[-1]
    return {body["mappings"][field]["mapping"][leaf]["type"] for body in found.values() if body["mappings"]}


def logpipe(sandbox: dict[str, Any], *args: str) -> Any:
    return run_logpipe("--sandbox", *args, env=sandbox["env"])


SAVED_OBJECTS = "/_dashboards/api/saved_objects"


def dashboard_problems(sandbox: dict[str, Any], pipeline: str) -> list[str]:
    """What is wrong with P's dashboard as Dashboards would show it: missing, or a panel or an
    index pattern reference that points at nothing."""
    board = get(sandbox, f"{SAVED_OBJECTS}/dashboard/logpipe-{pipeline}")
    if board is None:
        return [f"no dashboard logpipe-{pipeline}"]
    out = []
    for panel in board["references"]:
        chart = get(sandbox, f"{SAVED_OBJECTS}/{panel['type']}/{panel['id']}")
        if chart is None:
            out.append(f"{panel['name']} -> {panel['id']} missing")
            continue
        out += [
            f"{chart['id']} -> {ref['type']} {ref['id']} missing"
            for ref in chart["references"]
            if get(sandbox, f"{SAVED_OBJECTS}/{ref['type']}/{ref['id']}") is None
        ]
    return out if len(board["references"]) >= 5 else [*out, "fewer than five panels"]


def dashboard_url(sandbox: dict[str, Any], pipeline: str) -> str:
    return f"{sandbox['opensearch_url']}/_dashboards/app/dashboards#/view/logpipe-{pipeline}"


def test_each_pipeline_alone_is_typed_and_verified(sandbox: dict[str, Any]) -> None:
    for pipeline, (pattern, time_field, marker) in PIPELINES.items():
        built = logpipe(sandbox, "up", pipeline)
        assert built.returncode == 0, (pipeline, built.stderr)

        checked = logpipe(sandbox, "-o", "json", "verify", pipeline, "--timeout", "20")

        assert checked.returncode == 0, (pipeline, checked.stdout, checked.stderr)
        assert all(p["ok"] for p in json_out(checked)["probes"])
        assert field_types(sandbox, pattern, time_field) == {"date"}, pipeline
        assert field_types(sandbox, pattern, marker) == {"keyword"}, pipeline
        saved = get(sandbox, f"/_dashboards/api/saved_objects/index-pattern/logpipe-{pipeline}")
        assert saved["attributes"] == {"title": pattern, "timeFieldName": time_field}
        assert dashboard_problems(sandbox, pipeline) == [], pipeline
        assert dashboard_url(sandbox, pipeline) in built.stdout, built.stdout


def test_an_index_typed_by_guesswork_fails_verify_at_once_and_status_names_it(sandbox: dict[str, Any]) -> None:
    assert logpipe(sandbox, "up", "waf").returncode == 0
    # Today's index, made before the template could type it: the epoch-millisecond timestamp is a long.
    index = datetime.now(UTC).strftime("waf-log-%Y-%m-%d")
    requests.delete(f"{sandbox['opensearch_url']}/{index}", auth=master(sandbox), timeout=30)
    body = {"mappings": {"properties": {"timestamp": {"type": "long"}}}}
    assert requests.put(f"{sandbox['opensearch_url']}/{index}", json=body, auth=master(sandbox), timeout=30).ok

    started = time.monotonic()
    checked = logpipe(sandbox, "-o", "json", "verify", "waf", "--timeout", "120")
    took = time.monotonic() - started

    assert checked.returncode == 1
    [probe] = json_out(checked)["probes"]
    assert f"index {index}: timestamp mapped as long, not date" in probe["error"]
    assert "logpipe opensearch repair waf" in probe["error"]
    assert took < 30, f"verify waited {took:.0f} s instead of saying why"

    status = logpipe(sandbox, "-o", "json", "status", "waf")
    assert status.returncode == 1
    [row] = [r for r in json_out(status)["health"] if r["check"] == "mapping"]
    assert row["detail"].startswith(f"{index}: timestamp mapped as long, not date")

    repaired = logpipe(sandbox, "opensearch", "repair", "waf", "--reindex", "--yes")
    assert repaired.returncode == 0, repaired.stderr
    assert logpipe(sandbox, "verify", "waf", "--timeout", "20").returncode == 0


def test_teardown_of_one_pipeline_leaves_the_others_verifying(sandbox: dict[str, Any]) -> None:
    assert logpipe(sandbox, "up", "all").returncode == 0
    assert logpipe(sandbox, "verify", "--timeout", "20").returncode == 0

    down = logpipe(sandbox, "-o", "json", "teardown", "--yes", "waf")

    assert down.returncode == 0, down.stderr
    deleted = {(c["kind"], c["name"]) for c in json_out(down)["changes"]}
    assert {
        ("opensearch-index-template", "logpipe-waf"),
        ("opensearch-index-pattern", "logpipe-waf"),
        ("opensearch-dashboard", "logpipe-waf"),
        ("opensearch-role-mapping", "waf"),
        ("opensearch-role", "logpipe-demogo-waf-writer"),
    } <= deleted
    assert not {kind for kind, _ in deleted} & {"opensearch-access-policy", "opensearch-domain"}
    assert get(sandbox, "/_index_template/logpipe-waf") is None
    assert get(sandbox, "/_index_template/logpipe-dns") is not None
    assert get(sandbox, f"{SAVED_OBJECTS}/dashboard/logpipe-waf") is None
    assert get(sandbox, f"{SAVED_OBJECTS}/visualization/logpipe-waf-top-uris") is None
    assert dashboard_problems(sandbox, "dns") == []
    # The data stays: OpenSearch holds the user's documents, not logpipe.
    assert get(sandbox, "/waf-log-*/_count")["count"] >= 1
    others = logpipe(sandbox, "-o", "json", "verify", "cloudtrail", "dns", "flowlog", "securityhub", "--timeout", "20")
    assert others.returncode == 0, others.stdout
    assert {p["pipeline"] for p in json_out(others)["probes"]} == {"cloudtrail", "dns", "flowlog", "securityhub"}


def test_status_reads_at_a_glance_in_100_columns(sandbox: dict[str, Any]) -> None:
    assert logpipe(sandbox, "up", "all").returncode == 0
    logpipe(sandbox, "verify", "--timeout", "20")

    shown = run_logpipe("--sandbox", "status", env={**sandbox["env"], "COLUMNS": "100"})

    lines = shown.stdout.splitlines()
    assert max(len(line) for line in lines) <= 100, shown.stdout
    for pipeline in (*PIPELINES, "opensearch"):
        assert len([line for line in lines if line.startswith(f"│ {pipeline} ")]) == 1, shown.stdout
    # Each dashboard's URL, whole, on a line of its own.
    for pipeline in PIPELINES:
        assert [line.split() for line in lines if dashboard_url(sandbox, pipeline) in line] == [
            [pipeline, dashboard_url(sandbox, pipeline)]
        ]
    # Only what is not ok follows the summary; every resource only with --all.
    assert "iam-role" not in shown.stdout
    every = run_logpipe("--sandbox", "status", "--all", env={**sandbox["env"], "COLUMNS": "100"})
    assert "iam-role" in every.stdout
    assert json.loads(logpipe(sandbox, "-o", "json", "status").stdout)["resources"], "json keeps full detail"


def test_status_after_one_pipeline_shows_the_others_as_not_built_in_one_line_each(sandbox: dict[str, Any]) -> None:
    assert logpipe(sandbox, "teardown", "--yes", "--delete-data", "all").returncode == 0
    assert logpipe(sandbox, "up", "waf").returncode == 0

    shown = run_logpipe("--sandbox", "status", env={**sandbox["env"], "COLUMNS": "100"})

    assert shown.returncode == 1, "pipelines the config enables but nobody built are not healthy"
    lines = shown.stdout.splitlines()
    assert max(len(line) for line in lines) <= 100, shown.stdout
    summary = lines[: lines.index("dashboards:")]
    for pipeline in PIPELINES:
        [row] = [line for line in summary if line.startswith(f"│ {pipeline} ")]
        assert ("not built: logpipe up" in row) is (pipeline != "waf"), row
    # What they lack is summed up, not listed resource by resource; waf's own trouble still is.
    assert "demogo-cloudtrail-indexer" not in shown.stdout and "resolver-query-log" not in shown.stdout
    assert "not built: cloudtrail, dns, flowlog, securityhub" in lines
    assert "  build them with `logpipe up cloudtrail dns flowlog securityhub`" in lines
    assert "no index matches waf-log-*" in shown.stdout
    report = json_out(logpipe(sandbox, "-o", "json", "status"))
    built = {row["pipeline"]: row["built"] for row in report["pipelines"]}
    assert built == {
        "cloudtrail": False,
        "dns": False,
        "waf": True,
        "flowlog": False,
        "securityhub": False,
        "opensearch": True,
    }
    dns = next(row for row in report["pipelines"] if row["pipeline"] == "dns")
    assert "missing: firehose-stream demogo-dns" in dns["problems"], "json keeps every resource"

    # verify of a pipeline never built says so at once, with one fix for everything it lacks.
    started = time.monotonic()
    checked = logpipe(sandbox, "-o", "json", "verify", "dns", "--timeout", "120")
    assert checked.returncode == 1
    assert time.monotonic() - started < 30, "verify waited instead of saying why"
    [probe] = json_out(checked)["probes"]
    assert probe["error"].startswith("not sent: missing: index template logpipe-dns"), probe["error"]
    assert "index pattern dns-log-*" in probe["error"]
    assert probe["error"].count("logpipe up dns") == 1, probe["error"]

    # A built pipeline that lost more than two pieces is counted in its row and listed below it.
    auth = master(sandbox)
    assert requests.delete(f"{sandbox['opensearch_url']}/_index_template/logpipe-waf", auth=auth, timeout=30).ok
    for kind in ("index-pattern", "dashboard"):
        url = f"{sandbox['opensearch_url']}{SAVED_OBJECTS}/{kind}/logpipe-waf"
        assert requests.delete(url, auth=auth, headers={"osd-xsrf": "true"}, timeout=30).ok, kind
    shown = run_logpipe("--sandbox", "status", env={**sandbox["env"], "COLUMNS": "100"})
    lines = shown.stdout.splitlines()
    [row] = [line for line in lines[: lines.index("dashboards:")] if line.startswith("│ waf ")]
    # The dashboard is one resource of seven saved objects: one of them gone is drift.
    assert "2 missing, 1 drifted" in row and "not built" not in row, row
    listed = lines[lines.index("dashboards:") :]
    assert any("logpipe-waf" in line and "missing" in line for line in listed), shown.stdout


def test_a_dashboard_edited_in_dashboards_is_drift_until_up_puts_it_back(sandbox: dict[str, Any]) -> None:
    assert logpipe(sandbox, "up", "dns").returncode == 0
    again = logpipe(sandbox, "-v", "up", "dns")
    assert again.returncode == 0 and write_calls(again) == 0, again.stderr
    assert dashboard_url(sandbox, "dns") in again.stdout
    path = f"{SAVED_OBJECTS}/dashboard/logpipe-dns"
    original = get(sandbox, path)["attributes"]
    edited = requests.put(
        sandbox["opensearch_url"] + path,
        json={"attributes": {"title": "my DNS board", "panelsJSON": "[]"}},
        auth=master(sandbox),
        headers={"osd-xsrf": "true"},
        timeout=30,
    )
    assert edited.ok, edited.text

    status = logpipe(sandbox, "-o", "json", "status", "dns")

    assert status.returncode == 1
    [board] = [r for r in json_out(status)["resources"] if r["kind"] == "opensearch-dashboard"]
    assert board["state"] == "drifted" and set(board["changes"]) == {"dashboard logpipe-dns"}
    fixed = logpipe(sandbox, "-v", "up", "dns")
    assert fixed.returncode == 0, fixed.stderr
    assert write_calls(fixed) == 1, "one import of the one object that differs"
    assert get(sandbox, path)["attributes"] == original
    assert dashboard_problems(sandbox, "dns") == []


def test_teardown_keeps_a_pipelines_indices_unless_asked_to_delete_the_data(sandbox: dict[str, Any]) -> None:
    assert logpipe(sandbox, "up", "dns", "waf").returncode == 0
    assert logpipe(sandbox, "verify", "dns", "waf", "--timeout", "20").returncode == 0

    kept = logpipe(sandbox, "-o", "json", "teardown", "--yes", "dns")
    assert kept.returncode == 0, kept.stderr
    assert json_out(kept)["indices_deleted"] == []
    assert any(name.startswith("dns-log-") for name in json_out(kept)["indices_kept"])
    assert get(sandbox, "/dns-log-*/_count")["count"] >= 1

    deleted = logpipe(sandbox, "-o", "json", "teardown", "--yes", "--delete-data", "dns")
    assert deleted.returncode == 0, deleted.stderr
    assert json_out(deleted)["indices_deleted"] and all(
        name.startswith("dns-log-") for name in json_out(deleted)["indices_deleted"]
    )
    assert not (get(sandbox, "/_cat/indices/dns-log-*?format=json") or [])
    assert get(sandbox, "/waf-log-*/_count")["count"] >= 1, "another pipeline's data is never touched"
