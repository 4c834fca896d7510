"""Each pipeline's dashboard in OpenSearch Dashboards: made by `up` (alone or with the others),
logpipe's own by id and marker, drift shown and put back, nothing of a user's touched, removed by
`teardown P`, its URL printed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from logpipe import pipelines as registry
from logpipe.cli import main
from logpipe.errors import PreflightError
from logpipe.pipelines.waf import WafPipeline
from logpipe.sandbox.opensearch_standin import OpenSearchStandin
from tests.opensearch.conftest import ADMIN, API, SAVED_OBJECTS, admin, fgac_domain, teardown, up

PIPELINES = list(registry.REGISTRY)
IMPORT = f"{SAVED_OBJECTS}/_import"


def saved(standin: OpenSearchStandin, type_: str, id_: str, tenant: str | None = None) -> dict[str, Any] | None:
    headers = {"securitytenant": tenant} if tenant else {}
    reply = requests.get(f"{standin.url}{SAVED_OBJECTS}/{type_}/{id_}", auth=ADMIN, headers=headers, timeout=30)
    return reply.json() if reply.status_code == 200 else None


def definition(pipeline: str) -> list[dict[str, Any]]:
    text = registry.load(pipeline).dashboard_file().read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def unresolved(standin: OpenSearchStandin, pipeline: str, tenant: str | None = None) -> list[str]:
    """References of the pipeline's stored objects that point at nothing (Dashboards would show
    "Could not locate that visualization" / "index pattern")."""
    out = []
    for obj in definition(pipeline):
        stored = saved(standin, obj["type"], obj["id"], tenant)
        assert stored is not None, f"{obj['type']} {obj['id']} was not made"
        for ref in stored["references"]:
            if saved(standin, ref["type"], ref["id"], tenant) is None:
                out.append(f"{obj['id']} -> {ref['type']} {ref['id']}")
    return out


def item(run: Any, key: str, targets: tuple[str, ...] = ("opensearch",)) -> Any:
    items = run.engine.status(run.declare(run.pipelines(targets)))
    return next(i for i in items if i.resource.key == key)


def cli(config: str, *args: str) -> Any:
    return CliRunner().invoke(main, ["--config", config, *args])


def test_up_of_one_pipeline_alone_makes_its_dashboard_and_every_reference_resolves(
    os_run: Callable[..., Any], standin: OpenSearchStandin
) -> None:
    up(os_run(), "waf")

    board = saved(standin, "dashboard", "logpipe-waf")
    assert board is not None and board["attributes"]["title"] == "[logpipe] AWS WAF"
    assert len(board["references"]) >= 5
    assert unresolved(standin, "waf") == []
    assert saved(standin, "dashboard", "logpipe-dns") is None, "only the pipeline asked for"
    # Written through the saved-objects import, in one request.
    assert [r.path for r in standin.mutating_requests if r.target == "dashboards"].count(IMPORT) == 1


def test_every_pipeline_gets_its_dashboard_and_a_second_up_writes_nothing(
    os_run: Callable[..., Any], standin: OpenSearchStandin
) -> None:
    up(os_run())
    for pipeline in PIPELINES:
        assert unresolved(standin, pipeline) == [], pipeline
    standin.reset()

    run = os_run()
    items = up(run)

    assert standin.mutating_requests == []
    assert run.counter.summary()["write"] == 0
    boards = [i for i in items if i.resource.kind == "opensearch-dashboard"]
    assert sorted(i.resource.name for i in boards) == sorted(f"logpipe-{p}" for p in PIPELINES)
    assert all(i.state == "ok" for i in boards)


def test_a_users_edit_is_drift_and_up_puts_back_only_that_object(
    os_run: Callable[..., Any], standin: OpenSearchStandin
) -> None:
    up(os_run())
    chart = saved(standin, "visualization", "logpipe-dns-top-query-names")
    state = json.loads(chart["attributes"]["visState"])
    state["aggs"][1]["params"]["size"] = 5
    edit = {"attributes": {"title": "my top 5", "visState": json.dumps(state)}}
    assert admin(standin, "PUT", f"{SAVED_OBJECTS}/visualization/logpipe-dns-top-query-names", edit).ok

    drifted = item(os_run(), "opensearch-dashboard:logpipe-dns")

    assert drifted.state == "drifted"
    assert drifted.detail.endswith("differs: visualization logpipe-dns-top-query-names")
    assert item(os_run(), "opensearch-dashboard:logpipe-waf").state == "ok"

    versions = {o["id"]: saved(standin, o["type"], o["id"])["version"] for o in definition("dns")}
    standin.reset()
    up(os_run())

    assert [(r.method, r.path) for r in standin.mutating_requests] == [("POST", IMPORT)]
    rewritten = {
        o["id"] for o in definition("dns") if saved(standin, o["type"], o["id"])["version"] != versions[o["id"]]
    }
    assert rewritten == {"logpipe-dns-top-query-names"}
    restored = saved(standin, "visualization", "logpipe-dns-top-query-names")
    assert restored["attributes"]["visState"] == chart["attributes"]["visState"]
    assert restored["attributes"]["title"] == chart["attributes"]["title"]
    assert item(os_run(), "opensearch-dashboard:logpipe-dns").state == "ok"


def test_a_deleted_visualization_is_made_again(os_run: Callable[..., Any], standin: OpenSearchStandin) -> None:
    up(os_run())
    assert admin(standin, "DELETE", f"{SAVED_OBJECTS}/visualization/logpipe-flowlog-top-talkers").ok

    found = item(os_run(), "opensearch-dashboard:logpipe-flowlog")
    assert found.state == "drifted" and "1 of 6 objects missing" in found.detail

    up(os_run())

    assert unresolved(standin, "flowlog") == []


def test_a_users_own_dashboard_and_visualization_are_never_touched(
    os_run: Callable[..., Any], standin: OpenSearchStandin
) -> None:
    up(os_run())
    mine = definition("waf")[0]
    mine_chart = {"attributes": {**mine["attributes"], "title": "my chart", "description": ""}}
    mine_chart["references"] = mine["references"]  # on logpipe's index pattern
    assert admin(standin, "POST", f"{SAVED_OBJECTS}/visualization/my-chart", mine_chart).ok
    my_board = {
        "attributes": {"title": "my board", "panelsJSON": '[{"panelRefName":"panel_0"},{"panelRefName":"panel_1"}]'},
        "references": [
            {"name": "panel_0", "type": "visualization", "id": "my-chart"},
            {"name": "panel_1", "type": "visualization", "id": "logpipe-waf-top-uris"},
        ],
    }
    assert admin(standin, "POST", f"{SAVED_OBJECTS}/dashboard/my-board", my_board).ok
    before = {key: saved(standin, *key) for key in (("visualization", "my-chart"), ("dashboard", "my-board"))}

    up(os_run())
    teardown(os_run(), "waf")

    assert saved(standin, "dashboard", "logpipe-waf") is None
    assert {key: saved(standin, *key) for key in before} == before


def test_an_object_under_logpipes_id_without_its_marker_is_someone_elses(
    os_run: Callable[..., Any], standin: OpenSearchStandin
) -> None:
    theirs = {"attributes": {"title": "theirs", "visState": '{"type":"table","aggs":[]}', "description": "mine"}}
    assert admin(standin, "POST", f"{SAVED_OBJECTS}/visualization/logpipe-waf-top-uris", theirs).ok
    standin.reset()

    run = os_run()
    items = run.engine.plan(run.declare(run.pipelines(("opensearch",))))
    with pytest.raises(PreflightError, match="opensearch-dashboard logpipe-waf"):
        run.engine.apply(items)
    assert standin.mutating_requests == []
    found = item(os_run(), "opensearch-dashboard:logpipe-waf")
    assert found.state == "not-owned"
    assert "visualization logpipe-waf-top-uris exist without logpipe's marker" in found.detail

    teardown(os_run(), "waf")

    assert saved(standin, "visualization", "logpipe-waf-top-uris")["attributes"]["title"] == "theirs"


def test_teardown_of_one_pipeline_removes_its_dashboard_only(
    os_run: Callable[..., Any], standin: OpenSearchStandin
) -> None:
    up(os_run())

    items = teardown(os_run(), "waf")

    deleted = [i.resource.key for i in items if i.result == "deleted"]
    assert "opensearch-dashboard:logpipe-waf" in deleted
    assert "opensearch-dashboard:logpipe-dns" not in deleted
    for obj in definition("waf"):
        assert saved(standin, obj["type"], obj["id"]) is None, obj["id"]
    assert unresolved(standin, "dns") == []
    # The visualizations went with it, before the index pattern they read.
    deletes = [r.path for r in standin.mutating_requests if r.method == "DELETE" and r.target == "dashboards"]
    assert deletes.index(f"{SAVED_OBJECTS}/dashboard/logpipe-waf") < deletes.index(
        f"{SAVED_OBJECTS}/index-pattern/logpipe-waf"
    )


def test_a_disabled_pipeline_gets_no_dashboard(os_run: Callable[..., Any], standin: OpenSearchStandin) -> None:
    up(os_run({"pipelines": {"securityhub": {"enabled": False}}}))

    assert saved(standin, "dashboard", "logpipe-securityhub") is None
    assert saved(standin, "visualization", "logpipe-securityhub-by-product") is None
    assert saved(standin, "dashboard", "logpipe-cloudtrail") is not None


def test_a_renamed_index_keeps_its_dashboard_working(os_run: Callable[..., Any], standin: OpenSearchStandin) -> None:
    up(os_run({"pipelines": {"waf": {"index": "edge-waf"}}}))

    pattern = saved(standin, "index-pattern", "logpipe-waf")
    assert pattern["attributes"]["title"] == "edge-waf-*"
    assert unresolved(standin, "waf") == []


def test_dashboards_go_to_the_configured_tenant_and_their_urls_say_so(
    osmem_base: Any, lab: dict[str, Any], make_run: Callable[..., Any]
) -> None:
    with fgac_domain(osmem_base, multi_tenancy=True) as server:
        assert admin(server, "PUT", f"{API}/tenants/security", {"description": "SOC"}).status_code == 201
        run = make_run({"opensearch": {"endpoint_url": server.url, "tenant": "security"}})
        up(run)

        assert unresolved(server, "dns", tenant="security") == []
        assert saved(server, "dashboard", "logpipe-dns", tenant="global") is None
        url = run.ctx.outputs["opensearch-dashboard:logpipe-dns"]["url"]
        assert url == f"{server.url}/_dashboards/app/dashboards?security_tenant=security#/view/logpipe-dns"


def test_up_and_status_print_each_dashboards_url(os_run: Callable[..., Any], standin: OpenSearchStandin) -> None:
    config = str(os_run().options.config)
    urls = {p: f"{standin.url}/_dashboards/app/dashboards#/view/logpipe-{p}" for p in PIPELINES}

    made = cli(config, "up", "opensearch")

    assert made.exit_code == 0, made.output
    lines = made.stdout.splitlines()
    assert "dashboards:" in lines
    for pipeline, url in urls.items():
        assert any(line.split() == [pipeline, url] for line in lines), made.stdout
    shown = cli(config, "-o", "json", "status", "opensearch")
    links = json.loads(shown.stdout)["dashboards"]
    assert {link["pipeline"]: link["url"] for link in links} == urls
    again = cli(config, "-o", "json", "up", "dns")
    assert [link["url"] for link in json.loads(again.stdout)["dashboards"]] == [urls["dns"]]
    # Each URL opens the stand-in's Dashboards, where the dashboard is.
    assert requests.get(f"{standin.url}{SAVED_OBJECTS}/dashboard/logpipe-dns", auth=ADMIN).ok


def test_a_broken_definition_fails_its_dashboard_alone_and_up_exits_1(
    os_run: Callable[..., Any], standin: OpenSearchStandin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = definition("waf")
    target = next(o for o in found if o["id"] == "logpipe-waf-top-countries")
    target["attributes"]["visState"] = target["attributes"]["visState"].replace("httpRequest.country", "geo.country")
    broken = tmp_path / "waf.ndjson"
    broken.write_text("".join(json.dumps(o) + "\n" for o in found))
    monkeypatch.setattr(WafPipeline, "dashboard_file", lambda self: broken)
    config = str(os_run().options.config)

    result = cli(config, "-o", "json", "up", "opensearch")

    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    [failed] = [c for c in document["changes"] if c["result"] == "failed"]
    assert failed["kind"] == "opensearch-dashboard" and failed["name"] == "logpipe-waf"
    assert str(broken) in failed["error"]
    assert "visualization logpipe-waf-top-countries" in failed["error"]
    assert "field geo.country (terms) is not in the waf index template" in failed["error"]
    assert saved(standin, "dashboard", "logpipe-waf") is None
    for pipeline in ("cloudtrail", "dns", "flowlog", "securityhub"):
        assert unresolved(standin, pipeline) == [], pipeline
    assert saved(standin, "index-pattern", "logpipe-waf") is not None, "the rest of waf's pieces are made"
    assert IMPORT in {r.path for r in standin.mutating_requests}
