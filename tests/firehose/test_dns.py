"""`up dns`: Firehose stream into OpenSearch, Resolver query logging on the lab's VPC."""

from __future__ import annotations

from typing import Any

import pytest

from logpipe.errors import PreflightError
from tests.conftest import ACCOUNT, REGION
from tests.firehose.support import (
    BUCKET,
    DOMAIN_ARN,
    OWNER_TAGS,
    QUERY_LOG_CONFIG,
    ROLES,
    STREAMS,
    client,
    opensearch_destination,
    plan,
    query_log_associations,
    query_log_configs,
    statement_for,
    stream,
    stream_arn,
    stream_tags,
    up,
)
from tests.support import role_policy, role_trust

STREAM = STREAMS["dns"]
ROLE = ROLES["dns"]


def test_up_dns_builds_the_lab_pipeline(lab: dict[str, Any], make_run: Any) -> None:
    run = make_run()
    up(run, ("dns",))

    described = stream(STREAM)
    assert described is not None
    assert described["DeliveryStreamStatus"] == "ACTIVE"
    assert described["DeliveryStreamType"] == "DirectPut"
    destination = opensearch_destination(STREAM)
    assert destination["DomainARN"] == DOMAIN_ARN
    assert destination["IndexName"] == "dns-log"
    assert destination["IndexRotationPeriod"] == "OneDay"
    assert destination["BufferingHints"] == {"SizeInMBs": 5, "IntervalInSeconds": 60}
    assert destination["RetryOptions"] == {"DurationInSeconds": 300}
    assert destination["S3BackupMode"] == "FailedDocumentsOnly"
    assert destination["RoleARN"] == f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
    assert destination["S3DestinationDescription"]["BucketARN"] == f"arn:aws:s3:::{BUCKET}"
    assert destination["S3DestinationDescription"]["Prefix"] == f"{STREAM}/"
    assert destination["CloudWatchLoggingOptions"] == {
        "Enabled": True,
        "LogGroupName": f"/aws/kinesisfirehose/{STREAM}",
        "LogStreamName": "DestinationDelivery",
    }
    # dns has no transform: records go to OpenSearch as Resolver wrote them.
    assert not destination.get("ProcessingConfiguration", {}).get("Enabled")
    assert stream_tags(STREAM).items() >= OWNER_TAGS.items()
    streams = client("logs").describe_log_streams(logGroupName=f"/aws/kinesisfirehose/{STREAM}")["logStreams"]
    assert {s["logStreamName"] for s in streams} == {"DestinationDelivery", "BackupDelivery"}

    configs = [c for c in query_log_configs() if c["Name"] == QUERY_LOG_CONFIG]
    assert len(configs) == 1
    assert configs[0]["DestinationArn"] == stream_arn(STREAM)
    tags = client("route53resolver").list_tags_for_resource(ResourceArn=configs[0]["Arn"])["Tags"]
    assert {t["Key"]: t["Value"] for t in tags}.items() >= OWNER_TAGS.items()
    associations = query_log_associations()
    assert [(a["ResolverQueryLogConfigId"], a["ResourceId"], a["Status"]) for a in associations] == [
        (configs[0]["Id"], lab["vpc_id"], "ACTIVE")
    ]


def test_firehose_role_is_scoped_to_its_domain_bucket_prefix_and_log_streams(
    lab: dict[str, Any], make_run: Any
) -> None:
    up(make_run(), ("dns",))

    trust = role_trust(ROLE)["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "firehose.amazonaws.com"}]
    # Firehose's documented trust: the account id as external id.
    assert trust[0]["Condition"] == {"StringEquals": {"sts:ExternalId": ACCOUNT}}
    policy = role_policy(ROLE)
    assert sorted(statement_for(policy, "es:ESHttpPost")) == [DOMAIN_ARN, f"{DOMAIN_ARN}/*"]
    assert sorted(statement_for(policy, "es:DescribeDomainConfig")) == [DOMAIN_ARN, f"{DOMAIN_ARN}/*"]
    reads = statement_for(policy, "es:ESHttpGet")
    assert reads and all(r.startswith(f"{DOMAIN_ARN}/") for r in reads)
    assert f"{DOMAIN_ARN}/*" not in reads
    assert statement_for(policy, "s3:PutObject") == [f"arn:aws:s3:::{BUCKET}/{STREAM}/*"]
    assert statement_for(policy, "s3:ListBucket") == [f"arn:aws:s3:::{BUCKET}"]
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/kinesisfirehose/{STREAM}"
    assert sorted(statement_for(policy, "logs:PutLogEvents")) == [
        f"{group}:log-stream:BackupDelivery",
        f"{group}:log-stream:DestinationDelivery",
    ]
    # No transform, so no Lambda permission at all.
    assert statement_for(policy, "lambda:InvokeFunction") == []
    every = [
        r for s in policy["Statement"] for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    ]
    assert "*" not in every


def test_second_up_makes_no_write_call(lab: dict[str, Any], make_run: Any) -> None:
    up(make_run(), ("dns",))
    again = make_run()
    items = up(again, ("dns",))
    assert again.counter.summary()["write"] == 0, again.counter.writes
    assert {i.action for i in items.values()} == {"noop"}


def test_vpc_given_by_id(lab: dict[str, Any], make_run: Any) -> None:
    up(make_run({"pipelines": {"dns": {"vpc": lab["vpc_id"]}}}), ("dns",))
    assert [a["ResourceId"] for a in query_log_associations()] == [lab["vpc_id"]]


def test_missing_vpc_stops_up_before_any_write(lab: dict[str, Any], make_run: Any) -> None:
    run = make_run({"pipelines": {"dns": {"vpc": "no-such-vpc"}}})
    items = plan(run, ("dns",))
    with pytest.raises(PreflightError, match="vpc no-such-vpc: does not exist"):
        run.engine.apply(list(items.values()))
    assert run.counter.summary()["write"] == 0
    assert stream(STREAM) is None


def test_association_removed_by_hand_is_restored(lab: dict[str, Any], make_run: Any) -> None:
    up(make_run(), ("dns",))
    config_id = next(c["Id"] for c in query_log_configs() if c["Name"] == QUERY_LOG_CONFIG)
    client("route53resolver").disassociate_resolver_query_log_config(
        ResolverQueryLogConfigId=config_id, ResourceId=lab["vpc_id"]
    )
    items = plan(make_run(), ("dns",))
    assert items[f"resolver-query-log-association:{QUERY_LOG_CONFIG}"].action == "create"

    up(make_run(), ("dns",))
    assert [(a["ResolverQueryLogConfigId"], a["ResourceId"]) for a in query_log_associations()] == [
        (config_id, lab["vpc_id"])
    ]


def test_writer_role_is_the_streams_role(lab: dict[str, Any], make_run: Any) -> None:
    run = make_run()
    up(run, ("dns",))
    (pipeline,) = run.pipelines(("dns",))
    assert pipeline.writer_role_names(run.ctx) == [ROLE]
    assert opensearch_destination(STREAM)["RoleARN"].endswith(f":role/{ROLE}")


def test_new_stream_name_moves_query_logging_to_the_new_stream(lab: dict[str, Any], make_run: Any) -> None:
    up(make_run(), ("dns",))
    renamed = {"pipelines": {"dns": {"stream_name": "demogo-dns-v2"}}}
    items = plan(make_run(renamed), ("dns",))
    config_item = items[f"resolver-query-log-config:{QUERY_LOG_CONFIG}"]
    assert config_item.changes["destination_arn"] == (stream_arn(STREAM), stream_arn("demogo-dns-v2"))

    up(make_run(renamed), ("dns",))
    (config,) = [c for c in query_log_configs() if c["Name"] == QUERY_LOG_CONFIG]
    assert config["DestinationArn"] == stream_arn("demogo-dns-v2")
    assert [(a["ResolverQueryLogConfigId"], a["ResourceId"]) for a in query_log_associations()] == [
        (config["Id"], lab["vpc_id"])
    ]
    again = make_run(renamed)
    up(again, ("dns",))
    assert again.counter.summary()["write"] == 0, again.counter.writes


def test_stream_carries_the_log_delivery_tag_and_gets_it_back(lab: dict[str, Any], make_run: Any) -> None:
    # Resolver delivers through AWSServiceRoleForLogDelivery, whose policy allows PutRecord only
    # into streams tagged LogDeliveryEnabled=true; a stream without it silently gets nothing.
    up(make_run(), ("dns",))
    assert stream_tags(STREAM)["LogDeliveryEnabled"] == "true"

    client("firehose").untag_delivery_stream(DeliveryStreamName=STREAM, TagKeys=["LogDeliveryEnabled"])
    item = plan(make_run(), ("dns",))[f"firehose-stream:{STREAM}"]
    assert set(item.changes) == {"tags"}
    run = make_run()
    up(run, ("dns",))
    assert stream_tags(STREAM)["LogDeliveryEnabled"] == "true"
    assert run.counter.writes == ["firehose:TagDeliveryStream"]
