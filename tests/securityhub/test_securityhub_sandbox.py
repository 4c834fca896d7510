"""End to end with the real command on the sandbox: `up securityhub`, a second `up` that writes
nothing, `securityhub sample-findings` reaching the GuardDuty index (and only it), Security Hub's
own findings and a linked region's reaching theirs, `verify` through every route, teardown."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REGION, json_out, run_logpipe
from tests.securityhub.findings import guardduty_finding, load_event
from tests.support import sandbox_client, write_calls

pytestmark = pytest.mark.e2e

PORT_PROBE = "Recon:EC2/PortProbeUnprotectedPort"


def search(sandbox: dict[str, Any], index: str) -> list[dict[str, Any]]:
    """Documents in ``index`` (a pattern), read as the domain's master user; [] when there is none."""
    password = (Path(sandbox["state_dir"]) / "master-password").read_text().strip()
    token = base64.b64encode(f"admin:{password}".encode()).decode()
    request = urllib.request.Request(
        f"{sandbox['opensearch_url'].rstrip('/')}/{index}/_search?size=100&allow_no_indices=true",
        headers={"Authorization": f"Basic {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return [hit["_source"] for hit in json.loads(response.read())["hits"]["hits"]]
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return []
        raise


def test_up_sample_findings_teardown(sandbox: dict[str, Any]) -> None:
    env = sandbox["env"]
    first = run_logpipe("--sandbox", "-o", "json", "up", "securityhub", env=env)
    assert first.returncode == 0, first.stderr
    made = json_out(first)
    assert made["ok"] is True
    created = {(c["kind"], c["name"]) for c in made["changes"] if c["result"] == "created"}
    assert ("guardduty-detector", "default") in created
    assert ("securityhub-hub", "default") in created
    assert ("config-recorder", "demogo-recorder") in created
    assert ("eventbridge-rule", "demogo-securityhub-guardduty") in created
    assert ("firehose-stream", "demogo-securityhub-config") in created
    assert ("eventbridge-rule", "demogo-securityhub-other") in created

    second = run_logpipe("--sandbox", "-v", "up", "securityhub", env=env)
    assert second.returncode == 0, second.stderr
    assert write_calls(second) == 0, second.stderr

    # Every resource is in place; only data is missing so far.
    status = run_logpipe("--sandbox", "-o", "json", "status", "securityhub", env=env)
    report = json_out(status)
    assert {r["state"] for r in report["resources"]} <= {"ok", "external"}
    assert [h["value"] for h in report["health"] if not h["ok"]] == ["no index"]

    sample = run_logpipe("--sandbox", "-o", "json", "securityhub", "sample-findings", "--type", PORT_PROBE, env=env)
    assert sample.returncode == 0, sample.stderr
    requested = json_out(sample)
    assert requested["finding_types"] == [PORT_PROBE]
    detectors = sandbox_client(sandbox, "guardduty").list_detectors()["DetectorIds"]
    assert requested["detector_id"] == detectors[0]

    # GuardDuty → Security Hub → EventBridge → Firehose + transform → OpenSearch, one finding per document.
    documents = search(sandbox, "aws-securityhub-findings-logs-guardduty-*")
    assert len(documents) == 1
    finding = documents[0]
    assert finding["ProductArn"] == f"arn:aws:securityhub:{REGION}::product/aws/guardduty"
    assert finding["CreatedAt"] and finding["UpdatedAt"]
    assert search(sandbox, "aws-securityhub-findings-logs-config-*") == []

    # Security Hub's own control finding (the lab config dropped it) and a GuardDuty finding from a
    # linked region, whose ProductArn names that region: each reaches one index.
    account = sandbox_client(sandbox, "sts").get_caller_identity()["Account"]
    control, linked = load_event()["detail"]["findings"][0], guardduty_finding()
    control["AwsAccountId"] = linked["AwsAccountId"] = account
    imported = sandbox_client(sandbox, "securityhub").batch_import_findings(Findings=[control, linked])
    assert imported["FailedCount"] == 0
    assert [d["Id"] for d in search(sandbox, "aws-securityhub-findings-logs-other-*")] == [control["Id"]]
    guardduty = {d["Id"]: d["ProductArn"] for d in search(sandbox, "aws-securityhub-findings-logs-guardduty-*")}
    assert guardduty == {finding["Id"]: finding["ProductArn"], linked["Id"]: linked["ProductArn"]}
    assert linked["ProductArn"] == "arn:aws:securityhub:us-east-1::product/aws/guardduty"

    checked = run_logpipe("--sandbox", "-o", "json", "verify", "securityhub", "--timeout", "60", env=env)
    assert checked.returncode == 0, checked.stderr
    probes = json_out(checked)["probes"]
    assert sorted(p["entry"] for p in probes if p["ok"]) == [
        f"Firehose stream demogo-securityhub-{route}" for route in ("config", "guardduty", "other")
    ]

    status = run_logpipe("--sandbox", "-o", "json", "status", "securityhub", env=env)
    assert status.returncode == 0, status.stdout
    assert json_out(status)["healthy"] is True

    down = run_logpipe("--sandbox", "-o", "json", "teardown", "securityhub", "--yes", env=env)
    assert down.returncode == 0, down.stderr
    removed = json_out(down)
    assert removed["changes"] and {c["result"] for c in removed["changes"]} == {"deleted"}
    assert sandbox_client(sandbox, "guardduty").list_detectors()["DetectorIds"] == []
    assert sandbox_client(sandbox, "events").list_rules(NamePrefix="demogo-")["Rules"] == []
    assert sandbox_client(sandbox, "config").describe_configuration_recorders()["ConfigurationRecorders"] == []

    missing = run_logpipe("--sandbox", "securityhub", "sample-findings", env=env)
    assert missing.returncode == 2
    assert "logpipe up securityhub" in missing.stderr
