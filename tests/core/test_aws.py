"""AWS access: throttling is retried with backoff; every call is counted as read or write."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from logpipe.aws import CallCounter, is_read_operation
from logpipe.resources.log_group import LogGroup
from tests.conftest import REGION


def throttle_backend(monkeypatch: pytest.MonkeyPatch, times: int) -> list[int]:
    """Make moto's CloudWatch Logs backend answer ThrottlingException ``times`` times, as AWS does under load."""
    from moto.core.exceptions import JsonRESTError
    from moto.logs.models import LogsBackend

    seen: list[int] = []
    original = LogsBackend.create_log_group

    def throttled(self: Any, *args: Any, **kwargs: Any) -> Any:
        if len(seen) < times:
            seen.append(1)
            raise JsonRESTError("ThrottlingException", "Rate exceeded")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LogsBackend, "create_log_group", throttled)
    return seen


def test_throttled_calls_are_retried_and_up_succeeds(lab: dict, make_run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    run = make_run()
    seen = throttle_backend(monkeypatch, 3)
    items = run.engine.apply(run.engine.plan({"t": [LogGroup("/logpipe/throttled", retention_days=7)]}))
    assert len(seen) == 3
    assert items[0].result == "created"
    groups = boto3.client("logs", region_name=REGION).describe_log_groups(logGroupNamePrefix="/logpipe/throttled")
    assert groups["logGroups"][0]["retentionInDays"] == 7


def test_calls_are_counted_by_service_and_kind(lab: dict, make_run: Any) -> None:
    run = make_run()
    run.engine.apply(run.engine.plan({"t": [LogGroup("/logpipe/counted", retention_days=7)]}))
    counts = run.counter.by_service()
    assert counts["logs"]["write"] == 2  # CreateLogGroup + PutRetentionPolicy
    assert counts["logs"]["read"] >= 1
    assert run.counter.writes == ["logs:CreateLogGroup", "logs:PutRetentionPolicy"]


def test_operation_classification() -> None:
    assert is_read_operation("DescribeDeliveryStream")
    assert is_read_operation("GetTrailStatus")
    assert is_read_operation("ListTagsForResource")
    assert not is_read_operation("PutSubscriptionFilter")
    assert not is_read_operation("UpdateDestination")
    counter = CallCounter()
    counter.record_http("opensearch", "GET", "/_cat/indices")
    counter.record_http("opensearch", "POST", "/cwl-*/_search")
    counter.record_http("opensearch", "PUT", "/_index_template/logpipe-waf")
    assert counter.summary()["read"] == 2 and counter.summary()["write"] == 1
