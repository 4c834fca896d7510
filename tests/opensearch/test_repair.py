"""`logpipe opensearch repair P` (and the lab's `purge-flowlog`): only indices typed otherwise than P's
template are touched; --delete removes them, --reindex rebuilds them keeping every document."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from logpipe.cli import main
from logpipe.sandbox.opensearch_standin import OpenSearchStandin
from tests.opensearch.conftest import BOTH, admin, up

ENGINES = BOTH  # the real engine is right where the emulator differs


@pytest.fixture
def flowlog_indices(os_run: Callable[..., Any], standin: OpenSearchStandin) -> dict[str, str]:
    """Two indices from before the transform and the template (epoch-number start; raw message only),
    then logpipe's up, then one good index."""
    assert admin(standin, "PUT", "/vpc-flowlog-2026-01-01").ok
    for start in (1418530010, 1418530070):
        assert admin(standin, "POST", "/vpc-flowlog-2026-01-01/_doc?refresh=true", {"start": start}).ok
    assert admin(standin, "POST", "/vpc-flowlog-raw/_doc?refresh=true", {"message": "2 1234 eni-1 - - ..."}).ok
    up(os_run())
    good = "/vpc-flowlog-2026-01-02/_doc?refresh=true"
    assert admin(standin, "POST", good, {"start": "2026-01-02T00:00:00Z"}).ok
    # Another pipeline's index, whatever its mapping, is not FlowLog's.
    assert admin(standin, "PUT", "/dns-log-2026-01-01", {"mappings": {"properties": {"start": {"type": "long"}}}}).ok
    standin.reset()
    return {"config": str(os_run().options.config)}


def indices(standin: OpenSearchStandin) -> set[str]:
    return {row["index"] for row in admin(standin, "GET", "/_cat/indices?format=json").json()}


def cli(config: str, *args: str, input_text: str | None = None) -> Any:
    return CliRunner().invoke(main, ["--config", config, *args], input=input_text)


def test_purge_deletes_only_misfiled_flowlog_indices(
    flowlog_indices: dict[str, str], standin: OpenSearchStandin
) -> None:
    result = cli(flowlog_indices["config"], "-o", "json", "opensearch", "purge-flowlog", "--yes")

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert {(c["index"], c["documents"]) for c in report["candidates"]} == {
        ("vpc-flowlog-2026-01-01", 2),
        ("vpc-flowlog-raw", 1),
    }
    assert sorted(report["repaired"]) == ["vpc-flowlog-2026-01-01", "vpc-flowlog-raw"]
    assert indices(standin) >= {"vpc-flowlog-2026-01-02", "dns-log-2026-01-01"}
    assert not indices(standin) & {"vpc-flowlog-2026-01-01", "vpc-flowlog-raw"}
    deletes = [r.path for r in standin.mutating_requests]
    assert sorted(deletes) == ["/vpc-flowlog-2026-01-01", "/vpc-flowlog-raw"], "one exact name each, no wildcard"


def test_without_a_terminal_and_without_yes_nothing_is_deleted(
    flowlog_indices: dict[str, str], standin: OpenSearchStandin
) -> None:
    before = indices(standin)

    result = cli(flowlog_indices["config"], "opensearch", "purge-flowlog")

    assert result.exit_code == 2
    assert "--yes" in result.output
    assert "vpc-flowlog-2026-01-01: 2 document(s)" in result.output
    assert indices(standin) == before
    assert standin.mutating_requests == []


def test_dry_run_lists_and_keeps(flowlog_indices: dict[str, str], standin: OpenSearchStandin) -> None:
    before = indices(standin)

    result = cli(flowlog_indices["config"], "opensearch", "purge-flowlog", "--dry-run")

    assert result.exit_code == 0
    assert "vpc-flowlog-raw: 1 document(s), no start field" in result.output
    assert "start mapped as long" in result.output
    assert indices(standin) == before


def test_answering_no_at_the_prompt_deletes_nothing(
    flowlog_indices: dict[str, str], standin: OpenSearchStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    before = indices(standin)

    result = cli(flowlog_indices["config"], "opensearch", "purge-flowlog", input_text="n\n")

    assert result.exit_code == 2
    assert indices(standin) == before


def test_nothing_to_purge_when_every_index_is_typed(
    os_run: Callable[..., Any], standin: OpenSearchStandin, tmp_path: Path
) -> None:
    up(os_run())
    assert admin(standin, "POST", "/vpc-flowlog-2026-01-02/_doc?refresh=true", {"start": 1418530010}).ok

    result = cli(str(os_run().options.config), "opensearch", "purge-flowlog")

    assert result.exit_code == 0
    assert "Nothing to repair: every vpc-flowlog-* index is mapped right" in result.output
    assert "vpc-flowlog-2026-01-02" in indices(standin)


def test_reindex_keeps_every_document_and_types_the_time_field(
    flowlog_indices: dict[str, str], standin: OpenSearchStandin
) -> None:
    result = cli(flowlog_indices["config"], "-o", "json", "opensearch", "repair", "flowlog", "--reindex", "--yes")

    assert result.exit_code == 0, result.output
    assert sorted(json.loads(result.stdout)["repaired"]) == ["vpc-flowlog-2026-01-01", "vpc-flowlog-raw"]
    mapping = admin(standin, "GET", "/vpc-flowlog-2026-01-01/_mapping").json()
    assert mapping["vpc-flowlog-2026-01-01"]["mappings"]["properties"]["start"]["type"] == "date"
    counts = {row["index"]: int(row["docs.count"]) for row in admin(standin, "GET", "/_cat/indices?format=json").json()}
    assert counts["vpc-flowlog-2026-01-01"] == 2 and counts["vpc-flowlog-raw"] == 1
    assert not [name for name in counts if name.endswith("-logpipe-repair")], "the temporary copies are gone"
    # The epoch-second starts are now dates a range query finds.
    found = admin(
        standin,
        "POST",
        "/vpc-flowlog-2026-01-01/_search",
        {"query": {"range": {"start": {"gte": "2014-12-14T04:00:00Z", "lte": "2014-12-14T04:10:00Z"}}}},
    ).json()
    assert found["hits"]["total"]["value"] == 2


def test_repair_works_for_every_pipeline_not_only_flowlog(
    os_run: Callable[..., Any], standin: OpenSearchStandin
) -> None:
    # A WAF index made by dynamic mapping before its template: the epoch-millisecond timestamp is a long.
    assert admin(standin, "POST", "/waf-log-2026-01-01/_doc?refresh=true", {"timestamp": 1592361810888}).ok
    up(os_run())
    config = str(os_run().options.config)

    listed = cli(config, "opensearch", "repair", "waf", "--dry-run")
    assert listed.exit_code == 0
    assert "waf-log-2026-01-01: 1 document(s), timestamp mapped as long, not date" in listed.output

    result = cli(config, "opensearch", "repair", "waf", "--delete", "--yes")
    assert result.exit_code == 0, result.output
    assert "waf-log-2026-01-01" not in indices(standin)


def test_repair_needs_a_choice_of_delete_or_reindex(
    flowlog_indices: dict[str, str], standin: OpenSearchStandin
) -> None:
    before = indices(standin)

    result = cli(flowlog_indices["config"], "opensearch", "repair", "flowlog", "--yes")

    assert result.exit_code == 2
    assert "--reindex" in result.output and "--delete" in result.output
    assert indices(standin) == before
