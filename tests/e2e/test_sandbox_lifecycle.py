"""The README's promise, end to end with the real command on the sandbox:
up all, up all again with zero writes, status, teardown leaving the lab's resources."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import json_out, run_logpipe
from tests.support import sandbox_client, write_calls

pytestmark = pytest.mark.e2e


def test_sandbox_status_prints_endpoints(sandbox: dict[str, Any]) -> None:
    result = run_logpipe("sandbox", "status", "-o", "json", env=sandbox["env"])
    info = json_out(result)
    assert info["running"] is True
    assert info["aws_endpoint_url"].startswith("http://127.0.0.1:")
    assert info["opensearch_url"].startswith("http://127.0.0.1:")


def test_up_all_twice_then_teardown(sandbox: dict[str, Any]) -> None:
    env = sandbox["env"]
    first = run_logpipe("--sandbox", "-o", "json", "up", "all", env=env)
    assert first.returncode == 0, first.stderr
    made = json_out(first)
    assert made["ok"] is True
    assert made["api_calls"]["write"] > 0
    assert {c["result"] for c in made["changes"]} == {"created"}
    # Progress goes to stderr, one line per resource, while stdout holds only the JSON document.
    assert re.search(r"✓ created firehose-stream demogo-dns \(\d+\.\ds\)", first.stderr), first.stderr
    assert len(re.findall(r"✓ created ", first.stderr)) == len(made["changes"])

    second = run_logpipe("--sandbox", "-v", "up", "all", env=env)
    assert second.returncode == 0, second.stderr
    assert write_calls(second) == 0, second.stderr
    assert "no changes made" in second.stdout

    status = run_logpipe("--sandbox", "-o", "json", "status", env=env)
    report = json_out(status)
    states = {r["state"] for r in report["resources"]}
    assert states <= {"ok", "external"}, [r for r in report["resources"] if r["state"] not in ("ok", "external")]
    assert report["leftovers"] == []
    # Nothing has arrived yet: status says so and exits 1.
    assert status.returncode == 1
    assert report["healthy"] is False
    assert {h["pipeline"] for h in report["health"] if h["check"] == "freshness" and not h["ok"]} == {
        "cloudtrail",
        "dns",
        "waf",
        "flowlog",
        "securityhub",
    }

    verify = run_logpipe("--sandbox", "-o", "json", "verify", "--timeout", "60", env=env)
    assert verify.returncode == 0, verify.stderr
    probes = json_out(verify)["probes"]
    assert {p["pipeline"] for p in probes if p["ok"]} == {"cloudtrail", "dns", "waf", "flowlog", "securityhub"}
    assert all(p["ok"] for p in probes)

    healthy = run_logpipe("--sandbox", "-o", "json", "status", env=env)
    assert healthy.returncode == 0, healthy.stdout
    assert json_out(healthy)["healthy"] is True

    down = run_logpipe("--sandbox", "-o", "json", "teardown", "--yes", env=env)
    assert down.returncode == 0, down.stderr
    removed = json_out(down)
    assert re.search(r"✓ deleted firehose-stream demogo-dns \(", down.stderr), down.stderr
    assert removed["changes"] and {c["result"] for c in removed["changes"]} == {"deleted"}

    # The lab's starting point is still there ...
    opensearch = sandbox_client(sandbox, "opensearch")
    assert opensearch.describe_domain(DomainName="demogo-opensearch")["DomainStatus"]["DomainName"]
    ec2 = sandbox_client(sandbox, "ec2")
    assert ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["demogo-vpc"]}])["Vpcs"]
    wafv2 = sandbox_client(sandbox, "wafv2")
    assert [a["Name"] for a in wafv2.list_web_acls(Scope="REGIONAL")["WebACLs"]] == ["demogo-webacl"]
    # ... and nothing logpipe made is left.
    assert sandbox_client(sandbox, "lambda").list_functions()["Functions"] == []
    assert sandbox_client(sandbox, "firehose").list_delivery_streams()["DeliveryStreamNames"] == []
    roles = sandbox_client(sandbox, "iam").list_roles()["Roles"]
    assert [r["RoleName"] for r in roles if r["RoleName"].startswith("demogo-")] == []
    assert sandbox_client(sandbox, "cloudtrail").describe_trails()["trailList"] == []
    assert sandbox_client(sandbox, "events").list_rules()["Rules"] == []
    groups = sandbox_client(sandbox, "logs").describe_log_groups()["logGroups"]
    assert [g["logGroupName"] for g in groups] == []

    again = run_logpipe("--sandbox", "-o", "json", "status", env=env)
    assert again.returncode == 1
    assert "missing" in {r["state"] for r in json_out(again)["resources"]}


def test_sandbox_flag_starts_the_emulator_when_none_runs(tmp_path: Any) -> None:
    """`--sandbox` on any command starts the emulator on demand; it keeps running until `sandbox stop`."""
    env = {"LOGPIPE_SANDBOX_DIR": str(tmp_path / "fresh")}
    assert run_logpipe("sandbox", "status", env=env).returncode == 1
    try:
        planned = run_logpipe("--sandbox", "-o", "json", "plan", "dns", env=env)
        assert planned.returncode == 0, planned.stderr
        assert "starting the sandbox emulator" in planned.stderr
        assert {c["action"] for c in json_out(planned)["changes"]} == {"create"}
        running = run_logpipe("-o", "json", "sandbox", "status", env=env)
        assert running.returncode == 0 and json_out(running)["running"] is True
    finally:
        stopped = run_logpipe("-o", "json", "sandbox", "stop", env=env)
    assert json_out(stopped) == {"stopped": True}
    assert run_logpipe("sandbox", "status", env=env).returncode == 1
