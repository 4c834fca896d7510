"""Index templates type the time fields from the first document; index patterns carry the time field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from logpipe import pipelines as registry
from logpipe.errors import PreflightError
from logpipe.sandbox.opensearch_standin import OpenSearchStandin
from tests.opensearch.conftest import BOTH, SAVED_OBJECTS, admin, teardown, up

ENGINES = BOTH  # the real engine is right where the emulator differs

#: pipeline -> (index pattern, time field), as the README documents them.
INDEX_PATTERNS = {
    "cloudtrail": ("cwl-*", "eventTime"),
    "dns": ("dns-log-*", "query_timestamp"),
    "waf": ("waf-log-*", "timestamp"),
    "flowlog": ("vpc-flowlog-*", "start"),
    "securityhub": ("aws-securityhub-findings-logs*", "CreatedAt"),
}
TEMPLATE_NAMES = {pipeline: f"logpipe-{pipeline}" for pipeline in INDEX_PATTERNS}


def saved_pattern(standin: OpenSearchStandin, pipeline: str, tenant: str | None = None) -> dict[str, Any] | None:
    headers = {"securitytenant": tenant} if tenant else {}
    reply = requests.get(
        f"{standin.url}{SAVED_OBJECTS}/index-pattern/logpipe-{pipeline}",
        auth=("admin", "Master-Passw0rd!"),
        headers=headers,
        timeout=30,
    )
    return None if reply.status_code == 404 else reply.json()["attributes"]


def test_up_puts_templates_that_type_time_fields_as_dates(
    os_run: Callable[..., Any], standin: OpenSearchStandin
) -> None:
    up(os_run())

    # A FlowLog document arrives with epoch seconds, as before the transform: still a date.
    reply = admin(standin, "POST", "/vpc-flowlog-2026-01-01/_doc?refresh=true", {"start": 1418530010, "srcport": 443})
    assert reply.status_code == 201, reply.text
    mapping = admin(standin, "GET", "/vpc-flowlog-2026-01-01/_mapping").json()["vpc-flowlog-2026-01-01"]["mappings"]
    assert mapping["properties"]["start"]["type"] == "date"
    for pipeline, (pattern, field) in INDEX_PATTERNS.items():
        index = pattern.rstrip("*").rstrip("-") + "-probe"
        assert admin(standin, "PUT", f"/{index}").status_code == 200
        found = admin(standin, "GET", f"/{index}/_mapping/field/{field}").json()[index]["mappings"]
        assert found[field]["mapping"][field.rsplit(".", 1)[-1]]["type"] == "date", (pipeline, found)


def test_index_patterns_have_each_pipelines_time_field(os_run: Callable[..., Any], standin: OpenSearchStandin) -> None:
    up(os_run())

    for pipeline, (title, field) in INDEX_PATTERNS.items():
        assert saved_pattern(standin, pipeline) == {"title": title, "timeFieldName": field}


def test_index_patterns_go_to_the_configured_tenant(
    osmem_base: Any, lab: dict[str, Any], make_run: Callable[..., Any]
) -> None:
    from tests.opensearch.conftest import API, fgac_domain

    with fgac_domain(osmem_base, multi_tenancy=True) as server:
        assert admin(server, "PUT", f"{API}/tenants/security", {"description": "SOC"}).status_code == 201
        up(make_run({"opensearch": {"endpoint_url": server.url, "tenant": "security"}}))

        assert {r.tenant for r in server.requests if r.target == "dashboards"} == {"security"}
        assert saved_pattern(server, "dns", tenant="security") == {
            "title": "dns-log-*",
            "timeFieldName": "query_timestamp",
        }
        assert saved_pattern(server, "dns", tenant="global") is None


def test_time_field_changed_by_hand_is_drift_and_up_repairs_it_in_place(
    os_run: Callable[..., Any], standin: OpenSearchStandin
) -> None:
    up(os_run())
    body = {"attributes": {"timeFieldName": "end"}}
    assert admin(standin, "PUT", f"{SAVED_OBJECTS}/index-pattern/logpipe-flowlog", body).status_code == 200

    run = os_run()
    items = run.engine.plan(run.declare(run.pipelines(("opensearch",))))
    [item] = [i for i in items if i.resource.key == "opensearch-index-pattern:logpipe-flowlog"]
    assert item.action == "update" and item.changes["timeFieldName"] == ("end", "start")
    assert run.counter.summary()["write"] == 0

    standin.reset()
    up(os_run())

    assert saved_pattern(standin, "flowlog") == {"title": "vpc-flowlog-*", "timeFieldName": "start"}
    assert [(r.method, r.path) for r in standin.mutating_requests] == [
        ("PUT", f"{SAVED_OBJECTS}/index-pattern/logpipe-flowlog")
    ]


def test_template_someone_else_made_under_logpipes_name_is_left_alone(
    os_run: Callable[..., Any], standin: OpenSearchStandin
) -> None:
    theirs = {"index_patterns": ["dns-log-*"], "priority": 5, "template": {"settings": {"number_of_replicas": 0}}}
    name = TEMPLATE_NAMES["dns"]
    assert admin(standin, "PUT", f"/_index_template/{name}", theirs).status_code == 200
    standin.reset()

    run = os_run()
    items = run.engine.plan(run.declare(run.pipelines(("opensearch",))))
    with pytest.raises(PreflightError, match=name):
        run.engine.apply(items)
    assert standin.mutating_requests == []

    teardown(os_run())

    kept = admin(standin, "GET", f"/_index_template/{name}").json()["index_templates"][0]["index_template"]
    assert kept["priority"] == 5


def test_teardown_removes_templates_and_patterns_but_keeps_data(
    os_run: Callable[..., Any], standin: OpenSearchStandin
) -> None:
    up(os_run())
    assert admin(standin, "POST", "/cwl-2026.01.01/_doc?refresh=true", {"eventTime": "2026-01-01T00:00:00Z"}).ok

    teardown(os_run(), "all")

    for pipeline in INDEX_PATTERNS:
        assert saved_pattern(standin, pipeline) is None
        assert admin(standin, "GET", f"/_index_template/{TEMPLATE_NAMES[pipeline]}").status_code == 404
    assert admin(standin, "GET", "/cwl-2026.01.01/_count").json()["count"] == 1


def test_teardown_from_a_partial_state(os_run: Callable[..., Any], standin: OpenSearchStandin) -> None:
    up(os_run())
    # Half gone already (a killed teardown, or removed by hand).
    admin(standin, "DELETE", f"{SAVED_OBJECTS}/index-pattern/logpipe-dns")
    admin(standin, "DELETE", f"/_index_template/{TEMPLATE_NAMES['waf']}")

    items = teardown(os_run(), "all")

    results = {i.resource.key: i.result or i.action for i in items}
    assert results["opensearch-index-pattern:logpipe-dns"] == "absent"
    assert results["opensearch-index-template:logpipe-waf"] == "absent"
    assert results["opensearch-index-pattern:logpipe-cloudtrail"] == "deleted"
    again = teardown(os_run(), "all")
    assert all(i.action in ("absent", "keep", "noop") for i in again if i.resource.kind != "opensearch-domain")


def test_disabled_pipeline_gets_no_template_or_pattern(os_run: Callable[..., Any], standin: OpenSearchStandin) -> None:
    up(os_run({"pipelines": {"waf": {"enabled": False}}}))

    assert saved_pattern(standin, "waf") is None
    assert admin(standin, "GET", f"/_index_template/{TEMPLATE_NAMES['waf']}").status_code == 404
    assert saved_pattern(standin, "dns") is not None


def test_renamed_and_unrotated_indices_get_matching_templates_patterns_and_role(
    os_run: Callable[..., Any], standin: OpenSearchStandin
) -> None:
    """A config that renames an index (or turns rotation off) is followed by every OpenSearch piece."""
    from tests.opensearch.conftest import API

    overrides = {
        "pipelines": {
            "dns": {"index": "resolver", "firehose": {"index_rotation": "NoRotation"}},
            "waf": {"index": "edge-waf"},
        }
    }
    run = os_run(overrides)
    assert patterns(run)["dns"] == ("resolver", "query_timestamp")
    assert patterns(run)["waf"] == ("edge-waf-*", "timestamp")
    up(run)

    assert saved_pattern(standin, "dns") == {"title": "resolver", "timeFieldName": "query_timestamp"}
    assert saved_pattern(standin, "waf") == {"title": "edge-waf-*", "timeFieldName": "timestamp"}
    template = admin(standin, "GET", f"/_index_template/{TEMPLATE_NAMES['dns']}").json()["index_templates"][0]
    assert template["index_template"]["index_patterns"] == ["resolver"]
    # The unrotated index itself is typed by the template.
    assert admin(standin, "POST", "/resolver/_doc?refresh=true", {"query_timestamp": "2026-01-01T00:00:00Z"}).ok
    mapping = admin(standin, "GET", "/resolver/_mapping").json()["resolver"]["mappings"]
    assert mapping["properties"]["query_timestamp"]["type"] == "date"
    for pipeline, pattern in (("dns", "resolver"), ("waf", "edge-waf-*")):
        name = f"logpipe-demogo-{pipeline}-writer"
        role = admin(standin, "GET", f"{API}/roles/{name}").json()[name]
        assert role["index_permissions"][0]["index_patterns"] == [pattern]


def patterns(run: Any) -> dict[str, tuple[str, str]]:
    out = {}
    for pipeline in registry.data_pipelines():
        spec = pipeline.index(run.ctx)
        out[pipeline.name] = (spec.pattern, spec.time_field)
    return out


def test_default_config_patterns_are_the_documented_ones(make_run: Callable[..., Any]) -> None:
    assert patterns(make_run()) == INDEX_PATTERNS
