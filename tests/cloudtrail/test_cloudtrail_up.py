"""`up cloudtrail` in moto: what it creates (real properties), that a second `up` writes nothing,
that events written to the trail's log group reach the indexer, and that a half-finished run
is finished by the next one."""

from __future__ import annotations

import base64
import gzip
import json
import time
from typing import Any

import pytest

from logpipe.errors import LogpipeError
from logpipe.pipelines import load
from logpipe.resources.lambda_function import LambdaFunction
from logpipe.sandbox.moto_gaps import clear_deliveries, recent_deliveries
from tests.cloudtrail.support import (
    BUCKET,
    FILTER,
    FUNCTION,
    INDEXER_ROLE,
    LOG_GROUP,
    LOG_GROUP_ARN,
    LOGS_ROLE,
    TRAIL,
    TRAIL_ARN,
    bucket_policy,
    client,
    retention,
    trail,
    trail_tags,
    up,
)
from tests.conftest import ACCOUNT, REGION
from tests.support import role_policy, role_trust

DOMAIN_ARN = f"arn:aws:es:{REGION}:{ACCOUNT}:domain/demogo-opensearch"


@pytest.fixture
def created(lab: dict, make_run: Any) -> dict[str, Any]:
    run = make_run()
    items = up(run)
    return {"run": run, "items": items}


def test_up_creates_every_resource_once(created: dict[str, Any]) -> None:
    results = {key: item.result for key, item in created["items"].items()}
    assert results == {
        "opensearch-domain:demogo-opensearch": "",
        "s3-bucket:demogo-kdf-backup": "created",
        f"s3-bucket:{BUCKET}": "created",
        f"log-group:{LOG_GROUP}": "created",
        f"iam-role:{LOGS_ROLE}": "created",
        f"cloudtrail-trail:{TRAIL}": "created",
        f"log-group:/aws/lambda/{FUNCTION}": "created",
        f"iam-role:{INDEXER_ROLE}": "created",
        f"lambda-function:{FUNCTION}": "created",
        f"lambda-permission:{FUNCTION}/cloudwatch-logs-cloudtrail": "created",
        f"subscription-filter:{FILTER}": "created",
        # The pipeline's own OpenSearch pieces: `up cloudtrail` alone leaves it searchable.
        "opensearch-access-policy:demogo-opensearch": "created",
        "opensearch-index-template:logpipe-cloudtrail": "created",
        "opensearch-role:logpipe-demogo-cloudtrail-writer": "created",
        "opensearch-role-mapping:cloudtrail": "created",
        "opensearch-index-pattern:logpipe-cloudtrail": "created",
        "opensearch-dashboard:logpipe-cloudtrail": "created",
    }


def test_trail_is_multi_region_logging_and_delivers_to_bucket_and_log_group(created: dict[str, Any]) -> None:
    found = trail()
    assert found is not None
    assert found["TrailARN"] == TRAIL_ARN
    assert found["IsMultiRegionTrail"] is True
    assert found["IncludeGlobalServiceEvents"] is True
    assert found["LogFileValidationEnabled"] is True
    assert found["S3BucketName"] == BUCKET
    assert found["CloudWatchLogsLogGroupArn"] == f"{LOG_GROUP_ARN}:*"
    assert found["CloudWatchLogsRoleArn"] == client("iam").get_role(RoleName=LOGS_ROLE)["Role"]["Arn"]
    assert client("cloudtrail").get_trail_status(Name=TRAIL)["IsLogging"] is True
    assert trail_tags()["logpipe:stack"] == "demogo"
    assert trail_tags()["managed-by"] == "logpipe"


def test_trail_logs_management_read_and_write_and_s3_data_events_of_all_buckets(created: dict[str, Any]) -> None:
    selectors = client("cloudtrail").get_event_selectors(TrailName=TRAIL)
    assert not selectors.get("EventSelectors")
    by_category = {
        next(f["Equals"][0] for f in s["FieldSelectors"] if f["Field"] == "eventCategory"): {
            f["Field"]: f for f in s["FieldSelectors"]
        }
        for s in selectors["AdvancedEventSelectors"]
    }
    assert set(by_category) == {"Management", "Data"}
    # No readOnly field: read and write management events alike.
    assert set(by_category["Management"]) == {"eventCategory"}
    data = by_category["Data"]
    assert "readOnly" not in data
    assert data["resources.type"]["Equals"] == ["AWS::S3::Object"]
    # Every bucket, except the one CloudTrail itself writes to (no event loop on delivery).
    assert set(data) == {"eventCategory", "resources.type", "resources.ARN"}
    assert data["resources.ARN"] == {"Field": "resources.ARN", "NotStartsWith": [f"arn:aws:s3:::{BUCKET}/"]}


def test_data_events_off_leaves_management_events_only(lab: dict, make_run: Any) -> None:
    up(make_run({"pipelines": {"cloudtrail": {"data_events": False}}}))
    selectors = client("cloudtrail").get_event_selectors(TrailName=TRAIL)["AdvancedEventSelectors"]
    assert [s["FieldSelectors"] for s in selectors] == [[{"Field": "eventCategory", "Equals": ["Management"]}]]


def test_trail_bucket_admits_only_this_trail(created: dict[str, Any]) -> None:
    statements = {s["Sid"]: s for s in bucket_policy(BUCKET)["Statement"]}
    assert set(statements) == {"AWSCloudTrailAclCheck", "AWSCloudTrailWrite"}
    acl, write = statements["AWSCloudTrailAclCheck"], statements["AWSCloudTrailWrite"]
    for statement in (acl, write):
        assert statement["Effect"] == "Allow"
        assert statement["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
        assert statement["Condition"]["StringEquals"]["aws:SourceArn"] == TRAIL_ARN
    assert acl["Action"] == "s3:GetBucketAcl"
    assert acl["Resource"] == f"arn:aws:s3:::{BUCKET}"
    assert write["Action"] == "s3:PutObject"
    assert write["Resource"] == f"arn:aws:s3:::{BUCKET}/AWSLogs/{ACCOUNT}/*"
    assert write["Condition"]["StringEquals"]["s3:x-amz-acl"] == "bucket-owner-full-control"
    block = client("s3").get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block.values())


def test_log_group_keeps_the_configured_retention(lab: dict, make_run: Any) -> None:
    up(make_run({"pipelines": {"cloudtrail": {"retention_days": 90}}}))
    assert retention() == 90


def test_cloudtrail_role_writes_only_to_the_trails_log_streams(created: dict[str, Any]) -> None:
    trust = role_trust(LOGS_ROLE)["Statement"]
    assert [(s["Principal"], s["Action"]) for s in trust] == [
        ({"Service": "cloudtrail.amazonaws.com"}, "sts:AssumeRole")
    ]
    assert role_policy(LOGS_ROLE)["Statement"] == [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"{LOG_GROUP_ARN}:log-stream:{ACCOUNT}_CloudTrail_{REGION}*"],
        }
    ]


def test_indexer_role_is_scoped_to_its_log_group_the_domain_and_the_failed_prefix(created: dict[str, Any]) -> None:
    trust = role_trust(INDEXER_ROLE)["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]
    grants = {tuple(sorted(s["Action"])): sorted(s["Resource"]) for s in role_policy(INDEXER_ROLE)["Statement"]}
    assert grants == {
        ("logs:CreateLogStream", "logs:PutLogEvents"): [
            f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{FUNCTION}:*"
        ],
        ("es:DescribeDomain", "es:ESHttpGet", "es:ESHttpPost", "es:ESHttpPut"): [DOMAIN_ARN, f"{DOMAIN_ARN}/*"],
        ("s3:PutObject",): ["arn:aws:s3:::demogo-kdf-backup/cloudtrail-failed/*"],
    }
    assert all(s["Effect"] == "Allow" for s in role_policy(INDEXER_ROLE)["Statement"])
    assert load("cloudtrail").writer_role_names(created["run"].ctx) == [INDEXER_ROLE]


def test_indexer_is_configured_for_the_domain_and_the_backup_bucket(created: dict[str, Any]) -> None:
    conf = client("lambda").get_function(FunctionName=FUNCTION)["Configuration"]
    endpoint = client("opensearch").describe_domain(DomainName="demogo-opensearch")["DomainStatus"]["Endpoint"]
    assert conf["Handler"] == "cloudtrail_indexer.handler"
    assert conf["Role"] == client("iam").get_role(RoleName=INDEXER_ROLE)["Role"]["Arn"]
    assert conf["MemorySize"] == 512
    assert conf["Timeout"] == 300
    assert conf["Environment"]["Variables"] == {
        "OPENSEARCH_ENDPOINT": endpoint,
        "INDEX_PREFIX": "cwl",
        "MAX_BULK_BYTES": "5242880",
        "FAILED_BUCKET": "demogo-kdf-backup",
        "FAILED_PREFIX": "cloudtrail-failed/",
        # The lab domain runs OpenSearch 2.17: flat_object takes nulls as they come.
        "FLAT_OBJECT_MODE": "native",
    }
    # The handler reads exactly these settings (plus AWS_REGION, which Lambda sets).
    from logpipe.lambdas.cloudtrail_indexer import Config

    settings = Config.from_env({**conf["Environment"]["Variables"], "AWS_REGION": REGION})
    # The lab domain's endpoint is a local stand-in and carries its scheme; a real domain's is a bare
    # host name, which the indexer reaches over HTTPS.
    assert settings.endpoint == endpoint
    bare = Config.from_env({**conf["Environment"]["Variables"], "OPENSEARCH_ENDPOINT": "search-x.es.amazonaws.com"})
    assert bare.endpoint == "https://search-x.es.amazonaws.com"
    assert (settings.index_prefix, settings.max_bulk_bytes) == ("cwl", 5242880)
    assert (settings.failed_bucket, settings.failed_prefix) == ("demogo-kdf-backup", "cloudtrail-failed/")


def test_only_cloudwatch_logs_for_the_trails_group_may_invoke_the_indexer(created: dict[str, Any]) -> None:
    policy = json.loads(client("lambda").get_policy(FunctionName=FUNCTION)["Policy"])
    assert len(policy["Statement"]) == 1
    statement = policy["Statement"][0]
    assert statement["Principal"] == {"Service": "logs.amazonaws.com"}
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == f"{LOG_GROUP_ARN}:*"
    assert statement["Condition"]["StringEquals"]["AWS:SourceAccount"] == ACCOUNT


def test_subscription_filter_sends_every_event_to_the_indexer(created: dict[str, Any]) -> None:
    filters = client("logs").describe_subscription_filters(logGroupName=LOG_GROUP)["subscriptionFilters"]
    function_arn = client("lambda").get_function(FunctionName=FUNCTION)["Configuration"]["FunctionArn"]
    assert [(f["filterName"], f["filterPattern"], f["destinationArn"]) for f in filters] == [(FILTER, "", function_arn)]


def test_a_record_written_to_the_trails_log_group_reaches_the_indexer(created: dict[str, Any]) -> None:
    logs = client("logs")
    function_arn = client("lambda").get_function(FunctionName=FUNCTION)["Configuration"]["FunctionArn"]
    record = {"eventVersion": "1.09", "eventID": "0d3c5f3e-aaaa-bbbb-cccc-000000000001", "eventName": "ListBuckets"}
    stream = f"{ACCOUNT}_CloudTrail_{REGION}"
    clear_deliveries()
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
    logs.put_log_events(
        logGroupName=LOG_GROUP,
        logStreamName=stream,
        # CloudWatch Logs accepts events of the last 14 days only.
        logEvents=[{"timestamp": int(time.time() * 1000), "message": json.dumps(record)}],
    )
    deliveries = recent_deliveries(function_arn)
    assert len(deliveries) == 1
    event = json.loads(deliveries[0].payloads[0])
    payload = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    assert payload["logGroup"] == LOG_GROUP
    assert payload["subscriptionFilters"] == [FILTER]
    assert [json.loads(e["message"]) for e in payload["logEvents"]] == [record]


def test_second_up_makes_no_write_call(created: dict[str, Any], make_run: Any) -> None:
    run = make_run()
    items = up(run)
    assert {item.action for item in items.values()} == {"noop"}
    summary = run.counter.summary()
    assert summary["write"] == 0, run.counter.writes
    assert summary["read"] > 0


def test_a_run_that_failed_half_way_is_finished_by_the_next_up(
    lab: dict, make_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = LambdaFunction.create

    def broken(self: LambdaFunction, ctx: Any, desired: dict[str, Any]) -> dict[str, Any]:
        raise LogpipeError("injected: the function could not be created")

    monkeypatch.setattr(LambdaFunction, "create", broken)
    first = up(make_run())
    assert first[f"lambda-function:{FUNCTION}"].result == "failed"
    assert first[f"subscription-filter:{FILTER}"].result == "skipped"
    assert first[f"cloudtrail-trail:{TRAIL}"].result == "created"

    monkeypatch.setattr(LambdaFunction, "create", original)
    run = make_run()
    second = up(run)
    made = {key for key, item in second.items() if item.result == "created"}
    assert made == {
        f"lambda-function:{FUNCTION}",
        f"lambda-permission:{FUNCTION}/cloudwatch-logs-cloudtrail",
        f"subscription-filter:{FILTER}",
    }
    assert not any(w.startswith("cloudtrail:") for w in run.counter.writes)
    assert client("logs").describe_subscription_filters(logGroupName=LOG_GROUP)["subscriptionFilters"]
