"""Role mappings: logpipe adds its pipelines' roles, keeps everyone else's entries, removes only its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from logpipe.opensearch import security
from logpipe.pipelines.opensearch import writer_role_arns
from logpipe.sandbox.opensearch_standin import OpenSearchStandin
from tests.opensearch.conftest import API, CALLER_ARN, admin, mapping, teardown, up

ACCOUNT = "123456789012"
OTHER_TEAM = f"arn:aws:iam::{ACCOUNT}:role/other-team-ingest"


def writer(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


# Every pipeline registered today names its writer roles; these are the lab prefix's.
DNS_WRITER = writer("demogo-dns-firehose")
CLOUDTRAIL_WRITER = writer("demogo-cloudtrail-indexer-role")


def seed_all_access(standin: OpenSearchStandin) -> dict[str, Any]:
    """An administrator's all_access mapping: the master, a colleague, another team's role, a host."""
    body = {"users": ["admin", "alice"], "backend_roles": [CALLER_ARN, OTHER_TEAM], "hosts": ["10.0.0.7"]}
    assert admin(standin, "PUT", f"{API}/rolesmapping/all_access", body).status_code == 200
    found = mapping(standin, "all_access")
    assert found is not None
    return found


def logpipe_arns(run: Any) -> set[str]:
    return {arn for arns in writer_role_arns(run.ctx, include_disabled=True).values() for arn in arns}


def others_entries(found: dict[str, Any] | None, ours: set[str]) -> dict[str, list[str]]:
    """Everything in a mapping that is not logpipe's."""
    assert found is not None
    return {f: sorted(found.get(f) or []) for f in ("users", "hosts", "and_backend_roles")} | {
        "backend_roles": sorted(a for a in found.get("backend_roles") or [] if a not in ours)
    }


def test_all_access_mode_appends_and_teardown_restores_others(
    os_run: Callable[..., Any], standin: OpenSearchStandin
) -> None:
    before = seed_all_access(standin)
    standin.reset()
    config = {"opensearch": {"role_mapping": "all_access"}}

    run = os_run(config)
    up(run)

    after_up = mapping(standin, "all_access")
    assert after_up is not None
    ours = logpipe_arns(run)
    assert {DNS_WRITER, CLOUDTRAIL_WRITER} <= ours <= set(after_up["backend_roles"])
    assert others_entries(after_up, ours) == others_entries(before, ours)
    # Entries were appended, never rewritten: everyone else's keep their positions.
    assert after_up["backend_roles"][:2] == [CALLER_ARN, OTHER_TEAM]
    puts = [r for r in standin.requests if r.method == "PUT" and "rolesmapping" in r.path]
    assert not puts, "an existing mapping must be patched, never replaced"

    teardown(os_run(config))

    assert mapping(standin, "all_access") == before


def test_logpipe_writer_mode_creates_a_scoped_role_and_takes_lab_entries_out_of_all_access(
    os_run: Callable[..., Any], standin: OpenSearchStandin
) -> None:
    seed_all_access(standin)
    # The lab mapped a pipeline role to all_access by hand.
    ops = [{"op": "add", "path": "/backend_roles/-", "value": DNS_WRITER}]
    assert admin(standin, "PATCH", f"{API}/rolesmapping/all_access", ops).status_code == 200

    up(os_run())

    role = admin(standin, "GET", f"{API}/roles/{security.WRITER_ROLE}").json()[security.WRITER_ROLE]
    assert role["cluster_permissions"] == ["cluster_composite_ops", "cluster_monitor"]
    [permission] = role["index_permissions"]
    assert sorted(permission["index_patterns"]) == sorted(
        ["cwl-*", "dns-log-*", "waf-log-*", "vpc-flowlog-*", "aws-securityhub-findings-logs*"]
    )
    assert "*" not in permission["allowed_actions"] and "indices_all" not in permission["allowed_actions"]
    # Write, create and map its own indices, plus the read-only checks Firehose makes; no delete.
    assert set(permission["allowed_actions"]) == {
        "crud",
        "indices:admin/create",
        "indices:admin/mapping/put",
        "indices:admin/mappings/get",
        "indices_monitor",
    }
    writers = mapping(standin, security.WRITER_ROLE)
    assert writers is not None and {DNS_WRITER, CLOUDTRAIL_WRITER} <= set(writers["backend_roles"])
    all_access = mapping(standin, "all_access")
    assert all_access is not None
    assert DNS_WRITER not in all_access["backend_roles"]
    assert all_access["backend_roles"] == [CALLER_ARN, OTHER_TEAM]
    assert all_access["users"] == ["admin", "alice"] and all_access["hosts"] == ["10.0.0.7"]

    teardown(os_run())

    assert mapping(standin, security.WRITER_ROLE) is None
    assert admin(standin, "GET", f"{API}/roles/{security.WRITER_ROLE}").status_code == 404
    assert mapping(standin, "all_access") == all_access


def test_second_up_sends_no_write_to_aws_or_the_domain(os_run: Callable[..., Any], standin: OpenSearchStandin) -> None:
    seed_all_access(standin)
    up(os_run())
    standin.reset()

    run = os_run()
    items = up(run)

    assert [i.resource.key for i in items if i.action != "noop"] == []
    assert run.counter.summary()["write"] == 0, run.counter.writes
    assert standin.mutating_requests == []


def test_entry_removed_by_hand_is_planned_and_put_back(os_run: Callable[..., Any], standin: OpenSearchStandin) -> None:
    up(os_run())
    found = mapping(standin, security.WRITER_ROLE)
    assert found is not None
    index = found["backend_roles"].index(DNS_WRITER)
    assert (
        admin(
            standin,
            "PATCH",
            f"{API}/rolesmapping/{security.WRITER_ROLE}",
            [{"op": "remove", "path": f"/backend_roles/{index}"}],
        ).status_code
        == 200
    )

    run = os_run()
    items = run.engine.plan(run.declare(run.pipelines(("opensearch",))))
    [item] = [i for i in items if i.resource.kind == "opensearch-role-mapping"]
    assert item.action == "update"
    assert DNS_WRITER in item.changes[security.WRITER_ROLE][1]
    assert DNS_WRITER not in item.changes[security.WRITER_ROLE][0]
    assert run.counter.summary()["write"] == 0

    up(os_run())
    found = mapping(standin, security.WRITER_ROLE)
    assert found is not None and DNS_WRITER in found["backend_roles"]


def test_disabled_pipeline_loses_its_entry(os_run: Callable[..., Any], standin: OpenSearchStandin) -> None:
    up(os_run())
    up(os_run({"pipelines": {"dns": {"enabled": False}}}))

    found = mapping(standin, security.WRITER_ROLE)
    assert found is not None
    assert DNS_WRITER not in found["backend_roles"] and CLOUDTRAIL_WRITER in found["backend_roles"]


def test_writer_role_not_made_by_logpipe_is_a_conflict_and_left_alone(
    os_run: Callable[..., Any], standin: OpenSearchStandin
) -> None:
    theirs = {"description": "made by hand", "cluster_permissions": ["*"], "index_permissions": []}
    assert admin(standin, "PUT", f"{API}/roles/{security.WRITER_ROLE}", theirs).status_code == 201
    standin.reset()

    run = os_run()
    pipes = run.pipelines(("opensearch",))
    items = run.engine.plan(run.declare(pipes))
    from logpipe.errors import PreflightError

    with pytest.raises(PreflightError, match="logpipe_writer"):
        run.engine.apply(items)
    assert standin.mutating_requests == []

    teardown(os_run())
    role = admin(standin, "GET", f"{API}/roles/{security.WRITER_ROLE}").json()[security.WRITER_ROLE]
    assert role["cluster_permissions"] == ["*"] and role["description"] == "made by hand"
