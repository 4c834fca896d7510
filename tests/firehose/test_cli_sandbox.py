"""dns, waf and flowlog end to end with the real command on the sandbox: up, up again, status, teardown."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import json_out, run_logpipe
from tests.firehose.support import STREAMS
from tests.support import sandbox_client, write_calls

pytestmark = pytest.mark.e2e

TARGETS = ("dns", "waf", "flowlog")


def test_up_status_teardown_with_the_real_command(sandbox: dict[str, Any]) -> None:
    env = sandbox["env"]
    first = run_logpipe("--sandbox", "-o", "json", "up", *TARGETS, env=env)
    assert first.returncode == 0, first.stderr
    made = json_out(first)
    assert made["ok"] is True
    kinds = {c["kind"] for c in made["changes"] if c["result"] == "created"}
    assert {
        "firehose-stream",
        "resolver-query-log-config",
        "resolver-query-log-association",
        "waf-logging",
        "vpc-flow-log",
    } <= kinds

    firehose = sandbox_client(sandbox, "firehose")
    for name in STREAMS.values():
        described = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        assert described["DeliveryStreamStatus"] == "ACTIVE"

    second = run_logpipe("--sandbox", "-v", "up", *TARGETS, env=env)
    assert second.returncode == 0, second.stderr
    assert write_calls(second) == 0, second.stderr

    status = run_logpipe("--sandbox", "-o", "json", "status", *TARGETS, env=env)
    report = json_out(status)
    bad = [r for r in report["resources"] if r["state"] not in ("ok", "external")]
    assert not bad, bad
    external = {r["kind"] for r in report["resources"] if r["state"] == "external"}
    assert {"vpc", "waf-web-acl", "opensearch-domain"} <= external

    down = run_logpipe("--sandbox", "-o", "json", "teardown", "--yes", *TARGETS, env=env)
    assert down.returncode == 0, down.stderr
    removed = json_out(down)
    assert {c["result"] for c in removed["changes"]} == {"deleted"}
    assert firehose.list_delivery_streams()["DeliveryStreamNames"] == []
    # The lab's VPC and web ACL stay.
    ec2 = sandbox_client(sandbox, "ec2")
    assert ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["demogo-vpc"]}])["Vpcs"]
    acls = sandbox_client(sandbox, "wafv2").list_web_acls(Scope="REGIONAL")["WebACLs"]
    assert [a["Name"] for a in acls] == ["demogo-webacl"]

    after = run_logpipe("--sandbox", "-o", "json", "status", *TARGETS, env=env)
    assert after.returncode == 1
    assert {r["state"] for r in json_out(after)["resources"] if r["kind"] == "firehose-stream"} == {"missing"}
