"""End to end with the real command on the sandbox: up, a second up that writes nothing, status,
a CloudTrail record written to the trail's log group arriving in OpenSearch through logpipe's
indexer, and teardown - after which the lab's own resources (the domain) are still there."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ACCOUNT, REGION, SAMPLES, json_out, run_logpipe
from tests.support import sandbox_client, write_calls

pytestmark = pytest.mark.e2e

TRAIL = "demogo-trail"
LOG_GROUP = "/aws/cloudtrail/demogo"


def find(sandbox: dict[str, Any], event_id: str) -> list[dict[str, Any]]:
    """Hits in cwl-* with this eventID, read as the domain's master user."""
    password = (Path(sandbox["state_dir"]) / "master-password").read_text().strip()
    token = base64.b64encode(f"admin:{password}".encode()).decode()
    query = json.dumps({"query": {"term": {"eventID": event_id}}}).encode()
    request = urllib.request.Request(
        f"{sandbox['opensearch_url'].rstrip('/')}/cwl-*/_search?allow_no_indices=true",
        data=query,
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["hits"]["hits"]
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return []
        raise


def wait_for_hits(sandbox: dict[str, Any], event_id: str) -> list[dict[str, Any]]:
    # Delivery runs in the emulator's own threads; poll (bounded) rather than assume it is done.
    deadline = time.monotonic() + 60
    while True:
        hits = find(sandbox, event_id)
        if hits or time.monotonic() > deadline:
            return hits
        time.sleep(0.5)


def unhealthy_checks(report: dict[str, Any]) -> list[str]:
    return [h["check"] for h in report["health"] if not h["ok"]]


def test_up_data_status_teardown_cloudtrail_on_the_sandbox(sandbox: dict[str, Any]) -> None:
    env = sandbox["env"]
    first = run_logpipe("--sandbox", "-o", "json", "up", "cloudtrail", env=env)
    assert first.returncode == 0, first.stderr
    made = json_out(first)
    assert made["ok"] is True
    created = {(c["kind"], c["name"]) for c in made["changes"] if c["result"] == "created"}
    assert ("cloudtrail-trail", TRAIL) in created
    assert ("subscription-filter", "demogo-cloudtrail") in created
    assert ("lambda-function", "demogo-cloudtrail-indexer") in created
    assert sandbox_client(sandbox, "cloudtrail").get_trail_status(Name=TRAIL)["IsLogging"] is True

    second = run_logpipe("--sandbox", "-v", "up", "cloudtrail", env=env)
    assert second.returncode == 0, second.stderr
    assert write_calls(second) == 0, second.stderr

    # Every resource is in place; the only thing missing is data.
    status = run_logpipe("--sandbox", "-o", "json", "status", "cloudtrail", env=env)
    report = json_out(status)
    states = {(r["kind"], r["name"]): r["state"] for r in report["resources"]}
    assert states[("cloudtrail-trail", TRAIL)] == "ok"
    assert states[("opensearch-domain", "demogo-opensearch")] == "external"
    assert set(states.values()) <= {"ok", "external"}, states
    assert {h["check"]: h["value"] for h in report["health"]}["trail logging"] == "on"
    assert unhealthy_checks(report) == ["freshness"]
    assert status.returncode == 1

    # With the OpenSearch side in place (role mapping for the indexer's role, template), a record
    # CloudTrail writes to the log group is indexed by logpipe's indexer into today's cwl- index.
    opensearch = run_logpipe("--sandbox", "-o", "json", "up", "opensearch", env=env)
    assert opensearch.returncode == 0, opensearch.stderr
    record = json.loads((SAMPLES / "cloudtrail_events.json").read_text())[0]
    now = datetime.now(UTC)
    record.update(eventID=str(uuid.uuid4()), eventTime=now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    logs = sandbox_client(sandbox, "logs")
    stream = f"{ACCOUNT}_CloudTrail_{REGION}"
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
    logs.put_log_events(
        logGroupName=LOG_GROUP,
        logStreamName=stream,
        logEvents=[{"timestamp": int(now.timestamp() * 1000), "message": json.dumps(record)}],
    )
    hits = wait_for_hits(sandbox, record["eventID"])
    assert [(h["_index"], h["_id"]) for h in hits] == [(f"cwl-{now:%Y.%m.%d}", record["eventID"])]
    assert hits[0]["_source"]["eventName"] == record["eventName"]

    status = run_logpipe("--sandbox", "-o", "json", "status", "cloudtrail", env=env)
    assert status.returncode == 0, status.stdout
    assert json_out(status)["healthy"] is True

    down = run_logpipe("--sandbox", "-o", "json", "teardown", "cloudtrail", "opensearch", "--yes", env=env)
    assert down.returncode == 0, down.stderr
    removed = json_out(down)
    assert removed["ok"] is True
    assert ("cloudtrail-trail", TRAIL) in {(c["kind"], c["name"]) for c in removed["changes"]}
    assert {c["result"] for c in removed["changes"]} == {"deleted"}
    assert not [t for t in sandbox_client(sandbox, "cloudtrail").describe_trails()["trailList"] if t["Name"] == TRAIL]
    domain = sandbox_client(sandbox, "opensearch").describe_domain(DomainName="demogo-opensearch")
    assert domain["DomainStatus"]["DomainName"] == "demogo-opensearch"

    # Only what teardown reported as kept (the domain; the backup bucket other pipelines share) remains.
    kept = {(k["kind"], k["name"]) for k in removed["kept"]}
    after = run_logpipe("--sandbox", "-o", "json", "status", "cloudtrail", env=env)
    remaining = {(r["kind"], r["name"]) for r in json_out(after)["resources"] if r["state"] != "missing"}
    assert ("opensearch-domain", "demogo-opensearch") in remaining
    assert remaining <= kept
