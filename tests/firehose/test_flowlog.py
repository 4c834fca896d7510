"""`up flowlog`: transform Lambda told the flow log's format, stream, flow log on the lab's VPC."""

from __future__ import annotations

from typing import Any

import pytest

from logpipe.errors import PreflightError
from logpipe.lambdas.flowlog_transform import DEFAULT_LOG_FORMAT
from tests.firehose.support import (
    FLOW_LOG,
    FLOWLOG_FUNCTION,
    OWNER_TAGS,
    STREAMS,
    client,
    flow_logs,
    opensearch_destination,
    plan,
    stream_arn,
    stream_tags,
    up,
)

STREAM = STREAMS["flowlog"]
FLOW_LOG_KEY = f"vpc-flow-log:{FLOW_LOG}"
CUSTOM = "${version} ${vpc-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${start} ${end} ${action}"


def lambda_format() -> str:
    return client("lambda").get_function_configuration(FunctionName=FLOWLOG_FUNCTION)["Environment"]["Variables"][
        "LOG_FORMAT"
    ]


def test_up_flowlog_publishes_the_vpcs_flow_log_to_the_stream(lab: dict[str, Any], make_run: Any) -> None:
    up(make_run(), ("flowlog",))

    (flow_log,) = flow_logs(lab["vpc_id"])
    assert flow_log["LogDestinationType"] == "kinesis-data-firehose"
    assert flow_log["LogDestination"] == stream_arn(STREAM)
    assert flow_log["TrafficType"] == "ALL"
    assert flow_log["MaxAggregationInterval"] == 600
    assert flow_log["LogFormat"] == DEFAULT_LOG_FORMAT
    tags = {t["Key"]: t["Value"] for t in flow_log["Tags"]}
    assert tags == {**OWNER_TAGS, "Name": FLOW_LOG}
    # The transform parses lines with the very format the flow log writes.
    assert lambda_format() == DEFAULT_LOG_FORMAT
    destination = opensearch_destination(STREAM)
    assert destination["IndexName"] == "vpc-flowlog"
    assert destination["ProcessingConfiguration"]["Processors"][0]["Parameters"][0]["ParameterValue"].endswith(
        f":function:{FLOWLOG_FUNCTION}"
    )


def test_custom_format_reaches_both_the_flow_log_and_the_transform(lab: dict[str, Any], make_run: Any) -> None:
    config = {
        "pipelines": {"flowlog": {"log_format": CUSTOM, "traffic_type": "REJECT", "max_aggregation_interval": 60}}
    }
    up(make_run(config), ("flowlog",))
    (flow_log,) = flow_logs(lab["vpc_id"])
    assert (flow_log["LogFormat"], flow_log["TrafficType"], flow_log["MaxAggregationInterval"]) == (
        CUSTOM,
        "REJECT",
        60,
    )
    assert lambda_format() == CUSTOM

    again = make_run(config)
    up(again, ("flowlog",))
    assert again.counter.summary()["write"] == 0, again.counter.writes


def test_changed_format_replaces_the_flow_log_and_says_so(lab: dict[str, Any], make_run: Any) -> None:
    up(make_run(), ("flowlog",))
    (old,) = flow_logs(lab["vpc_id"])

    changed = {"pipelines": {"flowlog": {"log_format": CUSTOM}}}
    run = make_run(changed)
    items = plan(run, ("flowlog",))
    item = items[FLOW_LOG_KEY]
    assert item.action == "update"
    assert item.changes["log_format"] == (DEFAULT_LOG_FORMAT, CUSTOM)
    assert "cannot be modified" in item.detail
    assert items[f"lambda-function:{FLOWLOG_FUNCTION}"].changes["environment"][1] == {"LOG_FORMAT": CUSTOM}
    assert run.counter.summary()["write"] == 0

    items = up(make_run(changed), ("flowlog",))
    assert items[FLOW_LOG_KEY].result == "updated"
    assert items[FLOW_LOG_KEY].detail.count("cannot be modified") == 1
    (new,) = flow_logs(lab["vpc_id"])
    assert new["FlowLogId"] != old["FlowLogId"]
    assert new["LogFormat"] == CUSTOM
    assert lambda_format() == CUSTOM


def test_tag_removed_by_hand_is_put_back_in_place(lab: dict[str, Any], make_run: Any) -> None:
    up(make_run(), ("flowlog",))
    (old,) = flow_logs(lab["vpc_id"])
    client("ec2").delete_tags(Resources=[old["FlowLogId"]], Tags=[{"Key": "managed-by"}])
    # Without its ownership tag it is no longer recognisably logpipe's: a conflict, not a silent takeover.
    assert plan(make_run(), ("flowlog",))[FLOW_LOG_KEY].action == "conflict"

    up(make_run(), ("flowlog",), adopt=True)
    (now,) = flow_logs(lab["vpc_id"])
    assert now["FlowLogId"] == old["FlowLogId"]
    assert {t["Key"]: t["Value"] for t in now["Tags"]}.items() >= OWNER_TAGS.items()


def test_a_hand_made_flow_log_to_logpipes_stream_stops_up(lab: dict[str, Any], make_run: Any) -> None:
    client("ec2").create_flow_logs(
        ResourceIds=[lab["vpc_id"]],
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="kinesis-data-firehose",
        LogDestination=stream_arn(STREAM),
    )
    run = make_run()
    items = plan(run, ("flowlog",))
    assert items[FLOW_LOG_KEY].action == "conflict"
    with pytest.raises(PreflightError, match=f"vpc-flow-log {FLOW_LOG}"):
        run.engine.apply(list(items.values()))
    assert run.counter.summary()["write"] == 0
    assert len(flow_logs(lab["vpc_id"])) == 1


def test_flowlog_stream_carries_the_log_delivery_tag(lab: dict[str, Any], make_run: Any) -> None:
    # Flow logs reach Firehose through AWSServiceRoleForLogDelivery: PutRecord only into streams
    # tagged LogDeliveryEnabled=true.
    up(make_run(), ("flowlog",))
    assert stream_tags(STREAM)["LogDeliveryEnabled"] == "true"


def test_waf_stream_has_no_log_delivery_tag(lab: dict[str, Any], make_run: Any) -> None:
    # WAF writes with its own service-linked role (streams named aws-waf-logs-*), no tag needed.
    up(make_run(), ("waf",))
    assert "LogDeliveryEnabled" not in stream_tags(STREAMS["waf"])
