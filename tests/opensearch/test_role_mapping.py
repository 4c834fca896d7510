"""Role mappings: logpipe adds its pipelines' roles, keeps everyone else's entries, removes only its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from logpipe import pipelines as registry
from logpipe.pipelines.search import writer_role_arns
from logpipe.sandbox.opensearch_standin import OpenSearchStandin
from tests.opensearch.conftest import API, BOTH, CALLER_ARN, admin, mapping, teardown, up

ENGINES = BOTH  # the real engine is right where the emulator differs

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


DNS_ROLE = "logpipe-demogo-dns-writer"
CLOUDTRAIL_ROLE = "logpipe-demogo-cloudtrail-writer"


def logpipe_arns(run: Any) -> set[str]:
    return {arn for pipeline in registry.data_pipelines() for arn in writer_role_arns(run.ctx, pipeline)}


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

    teardown(os_run(config), "all")

    assert mapping(standin, "all_access") == before


def test_logpipe_writer_mode_gives_each_pipeline_a_scoped_role_and_takes_lab_entries_out_of_all_access(
    os_run: Callable[..., Any], standin: OpenSearchStandin
) -> None:
    seed_all_access(standin)
    # The lab mapped a pipeline role to all_access by hand.
    ops = [{"op": "add", "path": "/backend_roles/-", "value": DNS_WRITER}]
    assert admin(standin, "PATCH", f"{API}/rolesmapping/all_access", ops).status_code == 200

    up(os_run())

    expected = {
        "cloudtrail": "cwl-*",
        "dns": "dns-log-*",
        "waf": "waf-log-*",
        "flowlog": "vpc-flowlog-*",
        "securityhub": "aws-securityhub-findings-logs*",
    }
    for pipeline, pattern in expected.items():
        name = f"logpipe-demogo-{pipeline}-writer"
        role = admin(standin, "GET", f"{API}/roles/{name}").json()[name]
        assert role["cluster_permissions"] == ["cluster_composite_ops", "cluster_monitor"]
        [permission] = role["index_permissions"]
        # Each pipeline's writers reach its own indices only.
        assert permission["index_patterns"] == [pattern]
        assert "*" not in permission["allowed_actions"] and "indices_all" not in permission["allowed_actions"]
        # Write, create and map its own indices, plus the read-only checks Firehose makes; no delete.
        assert set(permission["allowed_actions"]) == {
            "crud",
            "indices:admin/create",
            "indices:admin/mapping/put",
            "indices:admin/mappings/get",
            "indices_monitor",
        }
    dns_writers = mapping(standin, DNS_ROLE)
    assert dns_writers is not None and dns_writers["backend_roles"] == [DNS_WRITER]
    cloudtrail_writers = mapping(standin, CLOUDTRAIL_ROLE)
    assert cloudtrail_writers is not None and cloudtrail_writers["backend_roles"] == [CLOUDTRAIL_WRITER]
    all_access = mapping(standin, "all_access")
    assert all_access is not None
    assert DNS_WRITER not in all_access["backend_roles"]
    assert all_access["backend_roles"] == [CALLER_ARN, OTHER_TEAM]
    assert all_access["users"] == ["admin", "alice"] and all_access["hosts"] == ["10.0.0.7"]

    teardown(os_run(), "all")

    assert mapping(standin, DNS_ROLE) is None
    assert admin(standin, "GET", f"{API}/roles/{DNS_ROLE}").status_code == 404
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
    found = mapping(standin, DNS_ROLE)
    assert found is not None
    index = found["backend_roles"].index(DNS_WRITER)
    ops = [{"op": "remove", "path": f"/backend_roles/{index}"}]
    assert admin(standin, "PATCH", f"{API}/rolesmapping/{DNS_ROLE}", ops).status_code == 200

    run = os_run()
    items = run.engine.plan(run.declare(run.pipelines(("opensearch",))))
    [item] = [i for i in items if i.resource.key == "opensearch-role-mapping:dns"]
    # The pipeline's only entry is gone: its part of the mapping is missing and made again.
    assert item.state == "missing" and item.action == "create"
    assert run.counter.summary()["write"] == 0

    up(os_run())
    found = mapping(standin, DNS_ROLE)
    assert found is not None and DNS_WRITER in found["backend_roles"]


def test_a_disabled_pipeline_keeps_its_entry_until_its_own_teardown(
    os_run: Callable[..., Any], standin: OpenSearchStandin
) -> None:
    """Disabling a pipeline leaves it alone, as for its AWS resources; `teardown P` takes its entry out."""
    up(os_run())
    up(os_run({"pipelines": {"dns": {"enabled": False}}}))
    found = mapping(standin, DNS_ROLE)
    assert found is not None and found["backend_roles"] == [DNS_WRITER]

    teardown(os_run({"pipelines": {"dns": {"enabled": False}}}), "dns")

    assert mapping(standin, DNS_ROLE) is None
    cloudtrail = mapping(standin, CLOUDTRAIL_ROLE)
    assert cloudtrail is not None and cloudtrail["backend_roles"] == [CLOUDTRAIL_WRITER]


def test_writer_role_not_made_by_logpipe_is_a_conflict_and_left_alone(
    os_run: Callable[..., Any], standin: OpenSearchStandin
) -> None:
    theirs = {"description": "made by hand", "cluster_permissions": ["*"], "index_permissions": []}
    assert admin(standin, "PUT", f"{API}/roles/{DNS_ROLE}", theirs).status_code == 201
    standin.reset()

    run = os_run()
    pipes = run.pipelines(("opensearch",))
    items = run.engine.plan(run.declare(pipes))
    from logpipe.errors import PreflightError

    with pytest.raises(PreflightError, match=DNS_ROLE):
        run.engine.apply(items)
    assert standin.mutating_requests == []

    teardown(os_run(), "all")
    role = admin(standin, "GET", f"{API}/roles/{DNS_ROLE}").json()[DNS_ROLE]
    assert role["cluster_permissions"] == ["*"] and role["description"] == "made by hand"


def test_up_takes_the_writers_out_of_the_role_all_pipelines_shared_before(
    os_run: Callable[..., Any], standin: OpenSearchStandin
) -> None:
    # A domain set up by an older logpipe: one logpipe_writer role for every pipeline, its mapping
    # holding the pipelines' writers (and, here, an entry somebody else added).
    legacy = {
        "description": "Created by logpipe (logpipe:stack=demogo): lets logpipe's pipelines write their indices",
        "cluster_permissions": ["cluster_composite_ops"],
        "index_permissions": [{"index_patterns": ["cwl-*", "dns-log-*"], "allowed_actions": ["crud"]}],
    }
    assert admin(standin, "PUT", f"{API}/roles/logpipe_writer", legacy).status_code == 201
    body = {"backend_roles": [DNS_WRITER, OTHER_TEAM, CLOUDTRAIL_WRITER]}
    assert admin(standin, "PUT", f"{API}/rolesmapping/logpipe_writer", body).status_code == 201

    up(os_run())

    # Each pipeline's writers now reach its own indices only: the shared grant is taken back.
    shared = mapping(standin, "logpipe_writer")
    assert shared is not None and shared["backend_roles"] == [OTHER_TEAM]
    dns_writers = mapping(standin, DNS_ROLE)
    assert dns_writers is not None and dns_writers["backend_roles"] == [DNS_WRITER]
    standin.reset()
    run = os_run()
    up(run)
    assert run.counter.summary()["write"] == 0, run.counter.writes

    teardown(os_run(), "all")
    assert mapping(standin, "logpipe_writer") == shared
