"""Leftovers: what a config change leaves behind is found by its tags and removed on request."""

from __future__ import annotations

from typing import Any

from logpipe import orphans
from tests.conftest import run_logpipe
from tests.support import client


def up(run: Any, *targets: str) -> list[Any]:
    pipes = run.pipelines(targets)
    run.preflight(pipes)
    return run.engine.apply(run.engine.plan(run.declare(pipes)))


def leftover_arns(run: Any, items: list[Any]) -> set[str]:
    return {o.arn for o in run.leftovers(items)}


def test_a_renamed_stream_leaves_leftovers_that_prune_removes(lab: dict, make_run: Any) -> None:
    first = make_run()
    assert leftover_arns(first, up(first, "dns")) == set()

    renamed = make_run({"pipelines": {"dns": {"stream_name": "demogo-resolver"}}})
    items = up(renamed, "dns")
    old = {
        "arn:aws:firehose:ap-northeast-2:123456789012:deliverystream/demogo-dns",
        "arn:aws:logs:ap-northeast-2:123456789012:log-group:/aws/kinesisfirehose/demogo-dns",
        "arn:aws:iam::123456789012:role/demogo-dns-firehose",
    }
    assert leftover_arns(renamed, items) == old

    results = orphans.delete_all(renamed.ctx, renamed.leftovers(items))
    assert {r["arn"] for r in results if r["result"] == "deleted"} == old
    streams = client("firehose").list_delivery_streams()["DeliveryStreamNames"]
    assert streams == ["demogo-resolver"]
    roles = {r["RoleName"] for r in client("iam").list_roles()["Roles"]}
    assert "demogo-dns-firehose" not in roles and "demogo-resolver-firehose" in roles

    again = make_run({"pipelines": {"dns": {"stream_name": "demogo-resolver"}}})
    assert leftover_arns(again, up(again, "dns")) == set()


def test_only_this_stacks_logpipe_tags_make_a_leftover(lab: dict, make_run: Any) -> None:
    logs = client("logs")
    logs.create_log_group(logGroupName="/other/stack", tags={"logpipe:stack": "other", "managed-by": "logpipe"})
    logs.create_log_group(logGroupName="/someone/else", tags={"logpipe:stack": "demogo"})
    logs.create_log_group(logGroupName="/demogo/old", tags={"logpipe:stack": "demogo", "managed-by": "logpipe"})
    run = make_run()
    found = leftover_arns(run, up(run, "dns"))
    assert found == {"arn:aws:logs:ap-northeast-2:123456789012:log-group:/demogo/old"}


def test_a_disabled_pipelines_resources_are_not_leftovers(lab: dict, make_run: Any) -> None:
    run = make_run()
    up(run, "dns")
    disabled = make_run({"pipelines": {"dns": {"enabled": False}}})
    items = disabled.engine.plan(disabled.declare(disabled.pipelines(("all",))[:1]))
    assert leftover_arns(disabled, items) == set()


def test_prune_needs_every_pipeline_in_view(write_config: Any) -> None:
    result = run_logpipe("--config", str(write_config()), "up", "dns", "--prune")
    assert result.returncode == 2
    assert "--prune needs every pipeline in view" in result.stderr
