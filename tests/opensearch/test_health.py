"""Status rows: per pipeline its mis-mapped indices and data freshness; never a crash."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from click.testing import CliRunner

from logpipe.cli import main
from logpipe.pipelines import load
from logpipe.sandbox.opensearch_standin import OpenSearchStandin
from tests.opensearch.conftest import API, BOTH, admin, up

ENGINES = BOTH  # the real engine is right where the emulator differs


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def freshness_rows(ctx: Any, pipeline: str) -> list[dict[str, Any]]:
    return [row for row in load(pipeline).health(ctx) if row["check"] == "freshness"]


def test_freshness_counts_the_last_24_hours_and_reports_the_newest(
    os_run: Callable[..., Any], standin: OpenSearchStandin
) -> None:
    up(os_run())
    now = datetime.now(UTC).replace(microsecond=0)
    docs = [now - timedelta(minutes=5), now - timedelta(hours=2), now - timedelta(days=3)]
    for when in docs:
        assert admin(standin, "POST", "/dns-log-2026-01-01/_doc?refresh=true", {"query_timestamp": iso(when)}).ok

    [row] = freshness_rows(os_run().ctx, "dns")

    assert row["ok"] is True
    assert row["value"] == "2 docs / 24h"
    assert iso(docs[0]).removesuffix("Z") in row["detail"]


def test_missing_index_is_a_clear_unhealthy_row(os_run: Callable[..., Any], standin: OpenSearchStandin) -> None:
    up(os_run())

    [row] = freshness_rows(os_run().ctx, "waf")

    assert row == {
        "pipeline": "waf",
        "check": "freshness",
        "value": "no index",
        "detail": "no index matches waf-log-*: no data has arrived yet",
        "ok": False,
    }
    assert [r["check"] for r in load("waf").health(os_run().ctx)] == ["freshness"]


def test_only_old_data_is_unhealthy(os_run: Callable[..., Any], standin: OpenSearchStandin) -> None:
    up(os_run())
    old = datetime.now(UTC) - timedelta(days=2)
    assert admin(standin, "POST", "/cwl-2026.01.01/_doc?refresh=true", {"eventTime": iso(old)}).ok

    [row] = freshness_rows(os_run().ctx, "cloudtrail")

    assert row["ok"] is False and row["value"] == "0 docs / 24h"
    assert iso(old)[:16] in row["detail"]


def test_misfiled_flowlog_index_is_named_with_its_repair_and_freshness_still_counts(
    os_run: Callable[..., Any], standin: OpenSearchStandin
) -> None:
    assert admin(standin, "POST", "/vpc-flowlog-old/_doc?refresh=true", {"start": 1418530010}).ok
    up(os_run())
    recent = iso(datetime.now(UTC) - timedelta(minutes=1))
    assert admin(standin, "POST", "/vpc-flowlog-new/_doc?refresh=true", {"start": recent}).ok

    rows = load("flowlog").health(os_run().ctx)

    [mapping] = [r for r in rows if r["check"] == "mapping"]
    assert mapping["ok"] is False
    assert mapping["detail"].startswith("vpc-flowlog-old: start mapped as long, not date")
    assert "logpipe opensearch repair flowlog" in mapping["detail"]
    [row] = [r for r in rows if r["check"] == "freshness"]
    assert row["value"] == "1 docs / 24h" and row["ok"] is True
    assert "1 index(es) left out" in row["detail"]


def test_every_pipeline_names_its_mis_mapped_indices(os_run: Callable[..., Any], standin: OpenSearchStandin) -> None:
    """Not only flow logs: an index of each pipeline whose time field got a guessed type is named."""
    wrong = {
        "cloudtrail": ("cwl-2026.01.01", "eventTime"),
        "dns": ("dns-log-2026-01-01", "query_timestamp"),
        "waf": ("waf-log-2026-01-01", "timestamp"),
        "securityhub": ("aws-securityhub-findings-logs-guardduty-2026-01-01", "CreatedAt"),
    }
    for index, field in wrong.values():
        assert admin(standin, "POST", f"/{index}/_doc?refresh=true", {field: 1418530010}).ok
    up(os_run())

    for pipeline, (index, field) in wrong.items():
        [row] = [r for r in load(pipeline).health(os_run().ctx) if r["check"] == "mapping"]
        assert row["ok"] is False
        assert row["detail"].startswith(f"{index}: {field} mapped as long, not date"), row


def test_every_pipeline_reports_freshness_through_the_base_health(
    os_run: Callable[..., Any], standin: OpenSearchStandin
) -> None:
    up(os_run())

    for name in ("cloudtrail", "dns", "waf", "flowlog", "securityhub"):
        rows = load(name).health(os_run().ctx)
        assert "freshness" in [r["check"] for r in rows if r["pipeline"] == name]


def test_unreachable_domain_gives_rows_not_a_crash(lab: dict[str, Any], make_run: Callable[..., Any]) -> None:
    run = make_run({"opensearch": {"endpoint_url": "http://127.0.0.1:9"}})

    [row] = freshness_rows(run.ctx, "dns")

    assert row["ok"] is False and "cannot reach OpenSearch" in row["detail"]


def test_opensearch_status_shows_every_pipelines_pieces_and_freshness(
    os_run: Callable[..., Any], standin: OpenSearchStandin
) -> None:
    up(os_run())
    # A writer role's mapping removed by hand shows up as a missing resource.
    admin(standin, "DELETE", f"{API}/rolesmapping/logpipe-demogo-dns-writer")

    result = CliRunner().invoke(main, ["--config", str(os_run().options.config), "-o", "json", "opensearch", "status"])

    assert result.exit_code == 1
    report = json.loads(result.stdout)
    checks = {(r["pipeline"], r["check"]): r for r in report["health"]}
    for pipeline in ("cloudtrail", "dns", "waf", "flowlog", "securityhub"):
        assert checks[(pipeline, "freshness")]["value"] == "no index"
    states = {(r["kind"], r["name"]): r["state"] for r in report["resources"]}
    assert states[("opensearch-role-mapping", "dns")] == "missing"
    assert states[("opensearch-role-mapping", "waf")] == "ok"
    assert states[("opensearch-index-pattern", "logpipe-dns")] == "ok"
    assert states[("opensearch-index-template", "logpipe-securityhub")] == "ok"


def test_status_counts_documents_that_replaced_a_different_one(
    os_run: Callable[..., Any], standin: OpenSearchStandin
) -> None:
    """The CloudTrail indexer marks a document that replaced different content under the same
    eventID with @replaced_id; status shows how many there are."""
    up(os_run())
    now = iso(datetime.now(UTC))
    assert admin(standin, "POST", "/cwl-2026.01.01/_doc?refresh=true", {"eventTime": now, "eventID": "a"}).ok
    doc = {"eventTime": now, "eventID": "b", "@replaced_id": "old-log-event-id"}
    assert admin(standin, "POST", "/cwl-2026.01.01/_doc?refresh=true", doc).ok

    rows = {r["check"]: r for r in load("cloudtrail").health(os_run().ctx)}

    assert rows["replaced"]["value"] == "1"
    assert rows["freshness"]["value"] == "2 docs / 24h"
