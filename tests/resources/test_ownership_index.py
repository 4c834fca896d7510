"""Tags come from one tagging-API listing per run, which only ever confirms logpipe's steady state:
a lagging listing never makes logpipe take or delete what is not (or no longer) its own."""

from __future__ import annotations

from typing import Any

import pytest

from logpipe.resources import ownership
from tests.support import client

STREAM = "demogo-dns"
STREAM_ARN = f"arn:aws:firehose:ap-northeast-2:123456789012:deliverystream/{STREAM}"


def up(run: Any) -> list[Any]:
    pipes = run.pipelines(("dns",))
    run.preflight(pipes)
    items = run.engine.apply(run.engine.plan(run.declare(pipes)))
    assert not [i for i in items if i.result in ("failed", "skipped")]
    return items


def test_a_resource_the_listing_does_not_show_yet_is_read_from_its_own_api(
    lab: dict, make_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    up(make_run())
    monkeypatch.setattr(ownership, "stack_listing", lambda ctx: {})  # the index has not caught up

    again = make_run()
    items = up(again)

    assert {i.state for i in items} <= {"ok", "external"}
    assert again.counter.summary()["write"] == 0
    assert again.counter.by_service()["firehose"]["read"] == 2  # DescribeDeliveryStream + its tags


def test_teardown_reads_ownership_from_each_resource_not_from_a_stale_listing(
    lab: dict, make_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make_run()
    up(first)
    stale = ownership.stack_listing(first.ctx)
    assert STREAM_ARN in stale
    # Somebody takes the stream over: logpipe's tags go, the listing has not noticed yet.
    client("firehose").untag_delivery_stream(DeliveryStreamName=STREAM, TagKeys=["managed-by", "logpipe:stack"])
    monkeypatch.setattr(ownership, "stack_listing", lambda ctx: stale)

    run = make_run()
    items = run.engine.teardown(run.engine.plan_teardown(run.declare(run.pipelines(("dns",), for_teardown=True))))

    by_key = {i.resource.key: i for i in items}
    assert by_key[f"firehose-stream:{STREAM}"].action == "keep"
    assert STREAM in client("firehose").list_delivery_streams()["DeliveryStreamNames"]
    assert by_key["resolver-query-log-config:demogo-dns-query-log"].result == "deleted"
