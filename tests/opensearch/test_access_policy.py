"""The domain access policy: each mode's statements, others' statements kept, open refused without FGAC."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from logpipe.cli import main
from logpipe.errors import PreflightError
from logpipe.pipelines import shared
from logpipe.resources.opensearch_access_policy import OpenSearchAccessPolicy
from tests.conftest import REGION
from tests.support import FakeClock

ACCOUNT = "123456789012"
DOMAIN = "demogo-opensearch"
DOMAIN_ARN = f"arn:aws:es:{REGION}:{ACCOUNT}:domain/{DOMAIN}"
SOMEONE_ELSE = {
    "Sid": "ReadOnlyAuditors",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/auditors"},
    "Action": "es:ESHttpGet",
    "Resource": f"{DOMAIN_ARN}/*",
}


def policy_of(domain: str = DOMAIN) -> dict[str, Any] | None:
    text = (
        boto3.client("opensearch", region_name=REGION)
        .describe_domain(DomainName=domain)["DomainStatus"]
        .get("AccessPolicies")
    )
    return json.loads(text) if text else None


def set_policy(*statements: dict[str, Any], domain: str = DOMAIN) -> None:
    document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    boto3.client("opensearch", region_name=REGION).update_domain_config(DomainName=domain, AccessPolicies=document)


def converge(run: Any) -> list[Any]:
    """Plan and apply the access policy alone (AWS side only: no data plane needed)."""
    resources = {"opensearch": [OpenSearchAccessPolicy(shared.domain(run.ctx))]}
    run.preflight(run.pipelines(("opensearch",)))
    items = run.engine.plan(resources)
    run.engine.apply(items)
    return items


def remove(run: Any) -> None:
    items = run.engine.plan_teardown({"opensearch": [OpenSearchAccessPolicy(shared.domain(run.ctx))]})
    run.engine.teardown(items)


def test_account_mode_lets_in_only_signed_requests_of_this_account(
    lab: dict[str, Any], make_run: Callable[..., Any]
) -> None:
    converge(make_run())

    assert policy_of() == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "logpipe-account",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "es:ESHttp*",
                "Resource": f"{DOMAIN_ARN}/*",
            }
        ],
    }


def test_ip_mode_adds_unsigned_access_from_the_listed_cidrs_only(
    lab: dict[str, Any], make_run: Callable[..., Any]
) -> None:
    cidrs = ["203.0.113.0/24", "198.51.100.7/32"]
    converge(make_run({"opensearch": {"access_policy": "ip", "allowed_cidrs": cidrs}}))

    statements = {s["Sid"]: s for s in policy_of()["Statement"]}
    assert set(statements) == {"logpipe-account", "logpipe-ip"}
    ip = statements["logpipe-ip"]
    assert ip["Principal"] == {"AWS": "*"} and ip["Action"] == "es:ESHttp*"
    assert ip["Resource"] == f"{DOMAIN_ARN}/*"
    assert sorted(ip["Condition"]["IpAddress"]["aws:SourceIp"]) == sorted(cidrs)


def test_open_mode_is_the_labs_policy_and_warns(lab: dict[str, Any], make_run: Callable[..., Any]) -> None:
    messages: list[str] = []
    run = make_run({"opensearch": {"access_policy": "open"}})
    run.ctx.progress = messages.append

    converge(run)

    assert policy_of()["Statement"] == [
        {
            "Sid": "logpipe-open",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "es:*",
            "Resource": f"{DOMAIN_ARN}/*",
        }
    ]
    assert any("warning" in m and "open" in m for m in messages)


def test_others_statements_are_kept_and_a_mode_change_replaces_only_logpipes(
    lab: dict[str, Any], make_run: Callable[..., Any]
) -> None:
    set_policy(SOMEONE_ELSE)
    converge(make_run({"opensearch": {"access_policy": "open"}}))

    run = make_run()
    items = run.engine.plan({"opensearch": [OpenSearchAccessPolicy(shared.domain(run.ctx))]})
    [item] = [i for i in items if i.resource.kind == "opensearch-access-policy"]
    assert item.action == "update"
    old, new = item.changes["statements"]
    assert [s["Sid"] for s in old] == ["logpipe-open"] and [s["Sid"] for s in new] == ["logpipe-account"]
    assert run.counter.summary()["write"] == 0

    converge(make_run())

    assert [s["Sid"] for s in policy_of()["Statement"]] == ["ReadOnlyAuditors", "logpipe-account"]
    assert policy_of()["Statement"][0] == SOMEONE_ELSE


def test_second_run_writes_nothing(lab: dict[str, Any], make_run: Callable[..., Any]) -> None:
    set_policy(SOMEONE_ELSE)
    converge(make_run())

    run = make_run()
    items = converge(run)

    assert all(i.action == "noop" for i in items)
    assert run.counter.summary()["write"] == 0


def test_teardown_removes_only_logpipes_statements(lab: dict[str, Any], make_run: Callable[..., Any]) -> None:
    set_policy(SOMEONE_ELSE)
    converge(make_run())

    remove(make_run())

    assert policy_of()["Statement"] == [SOMEONE_ELSE]


def test_teardown_of_the_only_statements_leaves_no_policy(lab: dict[str, Any], make_run: Callable[..., Any]) -> None:
    converge(make_run())

    remove(make_run())

    assert policy_of() is None


def test_labs_open_statement_is_kept_but_flagged(lab: dict[str, Any], make_run: Callable[..., Any]) -> None:
    lab_statement = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "es:*", "Resource": f"{DOMAIN_ARN}/*"}
    set_policy(lab_statement)
    converge(make_run())

    run = make_run()
    items = run.engine.status({"opensearch": [OpenSearchAccessPolicy(shared.domain(run.ctx))]})
    [item] = [i for i in items if i.resource.kind == "opensearch-access-policy"]
    assert "allows any principal" in item.detail
    assert lab_statement in policy_of()["Statement"]


@pytest.fixture
def plain_domain(lab: dict[str, Any]) -> str:
    """A domain without fine-grained access control, with a policy of its own."""
    boto3.client("opensearch", region_name=REGION).create_domain(
        DomainName="plain-domain", EngineVersion="OpenSearch_2.17"
    )
    set_policy(SOMEONE_ELSE, domain="plain-domain")
    return "plain-domain"


def test_open_without_fine_grained_access_control_is_refused_in_preflight(
    plain_domain: str, make_run: Callable[..., Any], write_config: Callable[..., Any]
) -> None:
    before = policy_of(plain_domain)
    run = make_run({"opensearch": {"domain": plain_domain, "access_policy": "open"}})

    with pytest.raises(PreflightError, match="fine-grained access control") as raised:
        converge(run)

    assert raised.value.exit_code == 2
    assert run.counter.summary()["write"] == 0
    assert policy_of(plain_domain) == before


def test_cli_up_opensearch_open_without_fgac_exits_2_and_changes_nothing(
    plain_domain: str, write_config: Callable[..., Any]
) -> None:
    config = write_config({"opensearch": {"domain": plain_domain, "access_policy": "open"}})
    before = policy_of(plain_domain)

    result = CliRunner().invoke(main, ["--config", str(config), "up", "opensearch"])

    assert result.exit_code == 2, result.output
    assert "fine-grained access control" in result.output
    assert policy_of(plain_domain) == before


def test_policy_command_previews_the_merged_document_without_a_change(
    lab: dict[str, Any], write_config: Callable[..., Any]
) -> None:
    set_policy(SOMEONE_ELSE)
    config = write_config({"opensearch": {"access_policy": "ip", "allowed_cidrs": ["203.0.113.0/24"]}})

    result = CliRunner().invoke(main, ["--config", str(config), "-o", "json", "opensearch", "policy"])

    assert result.exit_code == 0, result.output
    preview = json.loads(result.output)
    assert preview["current"]["Statement"] == [SOMEONE_ELSE]
    assert [s.get("Sid") for s in preview["after"]["Statement"]] == [
        "ReadOnlyAuditors",
        "logpipe-account",
        "logpipe-ip",
    ]
    assert preview["changes"] is True
    assert policy_of()["Statement"] == [SOMEONE_ELSE]


def test_a_new_policy_is_waited_for_until_the_domain_reports_it_active() -> None:
    """AWS applies a policy change over a minute or so; data-plane work must not start before."""
    from logpipe.resources.opensearch_access_policy import OpenSearchAccessPolicy
    from logpipe.resources.opensearch_domain import OpenSearchDomainRef

    class Domain:
        states = ["Processing", "Processing", "Active"]
        calls: list[str] = []

        def describe_domain_config(self, DomainName: str) -> dict[str, Any]:
            self.calls.append("describe")
            state = self.states.pop(0) if self.states else "Active"
            policy_doc = '{"Version": "2012-10-17", "Statement": []}'
            return {"DomainConfig": {"AccessPolicies": {"Options": policy_doc, "Status": {"State": state}}}}

        def describe_domain(self, DomainName: str) -> dict[str, Any]:
            self.calls.append("read")
            return {"DomainStatus": {"AccessPolicies": '{"Version": "2012-10-17", "Statement": []}'}}

        def update_domain_config(self, DomainName: str, AccessPolicies: str) -> None:
            self.calls.append("update")

    class Ctx:
        def __init__(self) -> None:
            self.domain = Domain()
            self.messages: list[str] = []
            self.aws = self
            self.clock = FakeClock()

        def client(self, service: str) -> Domain:
            return self.domain

        def progress(self, message: str) -> None:
            self.messages.append(message)

    resource = OpenSearchAccessPolicy(OpenSearchDomainRef("demogo-opensearch"))
    ctx = Ctx()
    resource._write(ctx, [])
    assert ctx.domain.calls == ["read", "update", "describe", "describe", "describe"]
    # Polled with backoff (never a fixed interval), each round telling the user what it waits for.
    first, second = ctx.clock.slept
    assert 0 < first <= second
    waiting = [m for m in ctx.messages if m.startswith("waiting for OpenSearch domain demogo-opensearch")]
    assert len(waiting) == 2 and all("apply its new access policy (now Processing)" in m for m in waiting)
    assert waiting[1].endswith(f"… {first:.0f} s")
