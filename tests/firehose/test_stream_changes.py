"""A Firehose stream's settings: drift shows in `plan`, `up` updates the same stream in place."""

from __future__ import annotations

from typing import Any

import pytest

from logpipe.errors import PreflightError
from tests.firehose.support import (
    QUERY_LOG_CONFIG,
    ROLES,
    STREAMS,
    client,
    make_foreign_stream,
    opensearch_destination,
    plan,
    query_log_configs,
    role_exists,
    stream,
    teardown,
    up,
)

STREAM = STREAMS["dns"]
STREAM_KEY = f"firehose-stream:{STREAM}"


def test_changed_buffer_size_is_planned_then_updated_in_place(lab: dict[str, Any], make_run: Any) -> None:
    up(make_run(), ("dns",))
    before = stream(STREAM)
    assert before is not None

    bigger = {"pipelines": {"dns": {"firehose": {"buffering": {"size_mb": 10}}}}}
    planner = make_run(bigger)
    items = plan(planner, ("dns",))
    assert items[STREAM_KEY].action == "update"
    assert items[STREAM_KEY].changes == {"buffer_size_mb": (5, 10)}
    assert [k for k, i in items.items() if i.action != "noop"] == [STREAM_KEY]
    assert planner.counter.summary()["write"] == 0

    run = make_run(bigger)
    items = up(run, ("dns",))
    assert items[STREAM_KEY].result == "updated"
    assert run.counter.writes == ["firehose:UpdateDestination"]
    after = stream(STREAM)
    assert after is not None
    assert after["DeliveryStreamARN"] == before["DeliveryStreamARN"]
    assert after["CreateTimestamp"] == before["CreateTimestamp"]
    assert int(after["VersionId"]) > int(before["VersionId"])
    assert opensearch_destination(STREAM)["BufferingHints"] == {"SizeInMBs": 10, "IntervalInSeconds": 60}

    again = make_run(bigger)
    up(again, ("dns",))
    assert again.counter.summary()["write"] == 0, again.counter.writes


def test_manual_change_shows_as_drift_and_up_repairs_it(lab: dict[str, Any], make_run: Any) -> None:
    up(make_run(), ("dns",))
    firehose = client("firehose")
    current = stream(STREAM)
    assert current is not None
    firehose.update_destination(
        DeliveryStreamName=STREAM,
        CurrentDeliveryStreamVersionId=current["VersionId"],
        DestinationId=current["Destinations"][0]["DestinationId"],
        AmazonopensearchserviceDestinationUpdate={
            "IndexName": "somewhere-else",
            "RetryOptions": {"DurationInSeconds": 60},
            "CloudWatchLoggingOptions": {"Enabled": False},
        },
    )

    items = plan(make_run(), ("dns",))
    assert set(items[STREAM_KEY].changes) == {"index_name", "retry_seconds", "logging"}
    assert items[STREAM_KEY].state == "drifted"

    up(make_run(), ("dns",))
    destination = opensearch_destination(STREAM)
    assert destination["IndexName"] == "dns-log"
    assert destination["RetryOptions"] == {"DurationInSeconds": 300}
    assert destination["CloudWatchLoggingOptions"]["Enabled"] is True
    assert stream(STREAM)["DeliveryStreamARN"] == current["DeliveryStreamARN"]


def test_rotation_retry_and_error_logging_come_from_the_config(lab: dict[str, Any], make_run: Any) -> None:
    settings = {"index_rotation": "OneHour", "retry_seconds": 120, "error_logging": False}
    up(make_run({"pipelines": {"dns": {"firehose": settings}}}), ("dns",))
    destination = opensearch_destination(STREAM)
    assert destination["IndexRotationPeriod"] == "OneHour"
    assert destination["RetryOptions"] == {"DurationInSeconds": 120}
    assert destination["CloudWatchLoggingOptions"] == {"Enabled": False}
    assert client("logs").describe_log_groups(logGroupNamePrefix="/aws/kinesisfirehose/")["logGroups"] == []


def test_tag_removed_by_hand_makes_it_someone_elses(lab: dict[str, Any], make_run: Any) -> None:
    up(make_run(), ("dns",))
    client("firehose").untag_delivery_stream(DeliveryStreamName=STREAM, TagKeys=["logpipe:stack"])
    items = plan(make_run(), ("dns",))
    assert items[STREAM_KEY].action == "conflict"
    assert items[STREAM_KEY].state == "not-owned"


def test_unowned_stream_under_logpipes_name_stops_up_and_survives_teardown(lab: dict[str, Any], make_run: Any) -> None:
    arn = make_foreign_stream(STREAM)
    run = make_run()
    items = plan(run, ("dns",))
    assert items[STREAM_KEY].action == "conflict"
    with pytest.raises(PreflightError, match=f"firehose-stream {STREAM}: exists but was not created by logpipe"):
        run.engine.apply(list(items.values()))
    assert run.counter.summary()["write"] == 0
    assert not role_exists(ROLES["dns"])
    assert not [c for c in query_log_configs() if c["Name"] == QUERY_LOG_CONFIG]

    items = teardown(make_run(), ("dns",))
    assert items[STREAM_KEY].action == "keep"
    kept = stream(STREAM)
    assert kept is not None and kept["DeliveryStreamARN"] == arn


def test_adopt_never_replaces_a_stream_logpipe_did_not_create(lab: dict[str, Any], make_run: Any) -> None:
    arn = make_foreign_stream(STREAM)
    run = make_run()
    items = plan(run, ("dns",), adopt=True)
    assert items[STREAM_KEY].action == "adopt"
    assert "destination" in items[STREAM_KEY].changes
    run.engine.apply(list(items.values()))
    assert items[STREAM_KEY].result == "failed"
    assert "cannot be changed in place" in (items[STREAM_KEY].error or "")
    # What needs the stream was not attempted; the stream is untouched.
    assert items[f"resolver-query-log-config:{QUERY_LOG_CONFIG}"].result == "skipped"
    kept = stream(STREAM)
    assert kept is not None and kept["DeliveryStreamARN"] == arn
    assert "ExtendedS3DestinationDescription" in kept["Destinations"][0]
