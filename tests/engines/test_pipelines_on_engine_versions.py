"""The CloudTrail and Security Hub pipelines on the engines Amazon OpenSearch Service still runs:
every real sample record arrives, typed, on OpenSearch 1.3, 2.11 and 2.17 and on Elasticsearch 7.10,
with the sandbox refusing what each of those engines refuses."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import ACCOUNT, REGION, SAMPLES, json_out, run_logpipe
from tests.lambdas.support import cloudtrail_records, jsonl
from tests.support import sandbox_client

pytestmark = pytest.mark.e2e

VERSIONS = {
    "OpenSearch_1.3": "json-string",
    "OpenSearch_2.11": "no-nulls",
    "OpenSearch_2.17": "native",
    "Elasticsearch_7.10": "json-string",
}


@pytest.fixture(params=list(VERSIONS))
def versioned(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A sandbox of its own whose domain runs ``request.param``."""
    env = {"LOGPIPE_SANDBOX_DIR": str(tmp_path_factory.mktemp("sandbox"))}
    started = run_logpipe("-o", "json", "sandbox", "start", "--engine-version", request.param, env=env)
    assert started.returncode == 0, started.stderr
    try:
        yield {"env": env, "version": request.param, **json.loads(started.stdout)}
    finally:
        run_logpipe("sandbox", "stop", env=env)


def count(sandbox: dict[str, Any], pattern: str) -> int:
    password = (Path(sandbox["env"]["LOGPIPE_SANDBOX_DIR"]) / "master-password").read_text().strip()
    reply = requests.get(f"{sandbox['opensearch_url']}/{pattern}/_count", auth=("admin", password), timeout=30)
    return int(reply.json().get("count", 0)) if reply.ok else 0


def wait_for_count(sandbox: dict[str, Any], pattern: str, expected: int) -> int:
    deadline = time.monotonic() + 30
    found = count(sandbox, pattern)
    while found < expected and time.monotonic() < deadline:
        time.sleep(0.5)
        found = count(sandbox, pattern)
    return found


def test_every_sample_record_arrives_on_each_engine(versioned: dict[str, Any]) -> None:
    env = versioned["env"]
    built = run_logpipe("--sandbox", "up", "cloudtrail", "securityhub", env=env)
    assert built.returncode == 0, built.stderr

    # CloudTrail writes its records to the trail's log group; the subscription runs logpipe's indexer.
    records = cloudtrail_records(SAMPLES)
    nulls = sum(1 for r in records if any(r.get(f, 0) is None for f in ("requestParameters", "responseElements")))
    assert nulls, "the samples must carry the nulls old engines refuse"
    logs = sandbox_client(versioned, "logs")
    stream = f"{ACCOUNT}_CloudTrail_{REGION}_samples"
    logs.create_log_stream(logGroupName="/aws/cloudtrail/demogo", logStreamName=stream)
    now = int(time.time() * 1000)
    events = [{"timestamp": now, "message": json.dumps(r)} for r in records]
    logs.put_log_events(logGroupName="/aws/cloudtrail/demogo", logStreamName=stream, logEvents=events)
    # Security Hub's imported-finding events, as EventBridge hands them to the catch-all stream.
    findings = [json.loads((SAMPLES / "securityhub_imported_event.json").read_text())]
    findings += jsonl(SAMPLES / "securityhub_imported_events.jsonl")
    firehose = sandbox_client(versioned, "firehose")
    for event in findings:
        firehose.put_record(DeliveryStreamName="demogo-securityhub-other", Record={"Data": json.dumps(event).encode()})

    unique = len({r["eventID"] for r in records})
    assert wait_for_count(versioned, "cwl-*", unique) == unique, versioned["version"]
    assert wait_for_count(versioned, "aws-securityhub-findings-logs-other*", len(findings)) == len(findings)
    parked = sandbox_client(versioned, "s3").list_objects_v2(Bucket="demogo-kdf-backup").get("Contents", [])
    assert parked == [], [o["Key"] for o in parked]

    status = json_out(run_logpipe("--sandbox", "-o", "json", "status", "cloudtrail", "securityhub", env=env))
    variants = {(r["pipeline"], r["value"]) for r in status["health"] if r["check"] == "variable fields"}
    mode = VERSIONS[versioned["version"]]
    assert variants == {("cloudtrail", mode), ("securityhub", mode)}
    assert not [r for r in status["health"] if r["check"] == "mapping"], "no index typed by guesswork"
    checked = run_logpipe("--sandbox", "verify", "cloudtrail", "securityhub", "--timeout", "20", env=env)
    assert checked.returncode == 0, checked.stdout


def test_an_engine_logpipe_does_not_support_is_refused_before_anything_starts(tmp_path: Path) -> None:
    env = {"LOGPIPE_SANDBOX_DIR": str(tmp_path)}

    refused = run_logpipe("sandbox", "start", "--engine-version", "Elasticsearch_6.8", env=env)

    assert refused.returncode == 2
    assert "OpenSearch_1.0 to OpenSearch_3.x, Elasticsearch_7.9 and Elasticsearch_7.10" in refused.stderr
    assert not (tmp_path / "state.json").exists()


def test_a_domain_on_an_engine_logpipe_does_not_support_stops_up_before_any_write(
    moto: None, standin: Any, write_config: Any
) -> None:
    from click.testing import CliRunner

    from logpipe.cli import main
    from logpipe.sandbox.emulator import LAB_SEED, seed_account

    seed_account(None, REGION, LAB_SEED, standin.url, "Master-Passw0rd!", engine_version="Elasticsearch_6.8")
    config = str(write_config())

    result = CliRunner().invoke(main, ["--config", config, "-v", "up", "waf"])

    assert result.exit_code == 2, result.output
    assert "'Elasticsearch_6.8' is not one logpipe supports" in result.output
    assert "OpenSearch_1.0 to OpenSearch_3.x, Elasticsearch_7.9 and Elasticsearch_7.10" in result.output
    assert standin.mutating_requests == []
    from tests.support import client

    assert client("firehose").list_delivery_streams()["DeliveryStreamNames"] == []
    assert not [r for r in client("iam").list_roles()["Roles"] if r["RoleName"].startswith(("aws-waf", "demogo"))]
