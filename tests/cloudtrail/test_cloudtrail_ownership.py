"""Teardown, a bucket named in the config, and things under logpipe's names that logpipe did not make."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from logpipe.errors import PreflightError
from tests.cloudtrail.support import (
    BUCKET,
    FILTER,
    FUNCTION,
    INDEXER_ROLE,
    LOG_GROUP,
    LOGS_ROLE,
    TRAIL,
    TRAIL_ARN,
    bucket_policy,
    client,
    cloudtrail_bucket_policy,
    make_bucket,
    plan,
    retention,
    teardown,
    trail,
    up,
)

LAB_BUCKET = "demogo-lab-cloudtrail-bucket"


def exists(check: Any) -> bool:
    try:
        check()
    except ClientError as exc:
        if exc.response["Error"]["Code"] in (
            "NoSuchBucket",
            "NoSuchEntity",
            "ResourceNotFoundException",
            "404",
        ):
            return False
        raise
    return True


def log_group_exists(name: str) -> bool:
    groups = client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return any(g["logGroupName"] == name for g in groups)


def test_teardown_removes_everything_up_created_and_a_second_teardown_nothing(lab: dict, make_run: Any) -> None:
    up(make_run())
    run = make_run()
    items = teardown(run)
    deleted = {key for key, item in items.items() if item.result == "deleted"}
    assert {
        f"cloudtrail-trail:{TRAIL}",
        f"s3-bucket:{BUCKET}",
        f"log-group:{LOG_GROUP}",
        f"iam-role:{LOGS_ROLE}",
        f"log-group:/aws/lambda/{FUNCTION}",
        f"iam-role:{INDEXER_ROLE}",
        f"lambda-function:{FUNCTION}",
        f"lambda-permission:{FUNCTION}/cloudwatch-logs-cloudtrail",
        f"subscription-filter:{FILTER}",
    } <= deleted
    assert not [i for i in items.values() if i.result in ("failed", "skipped")]
    assert items["opensearch-domain:demogo-opensearch"].action == "keep"

    assert trail() is None
    assert not exists(lambda: client("s3").head_bucket(Bucket=BUCKET))
    assert not log_group_exists(LOG_GROUP)
    assert not log_group_exists(f"/aws/lambda/{FUNCTION}")
    assert not exists(lambda: client("iam").get_role(RoleName=LOGS_ROLE))
    assert not exists(lambda: client("iam").get_role(RoleName=INDEXER_ROLE))
    assert not exists(lambda: client("lambda").get_function(FunctionName=FUNCTION))
    assert client("opensearch").describe_domain(DomainName="demogo-opensearch")["DomainStatus"]

    again = make_run()
    items = teardown(again)
    assert not [i for i in items.values() if i.action == "delete"]
    assert again.counter.summary()["write"] == 0


def test_teardown_from_a_partial_state_removes_the_rest(lab: dict, make_run: Any) -> None:
    up(make_run())
    # Half of it is already gone (deleted by hand, or a teardown that was interrupted).
    client("cloudtrail").delete_trail(Name=TRAIL)
    client("lambda").delete_function(FunctionName=FUNCTION)
    items = teardown(make_run())
    assert items[f"cloudtrail-trail:{TRAIL}"].action == "absent"
    assert items[f"lambda-function:{FUNCTION}"].action == "absent"
    assert items[f"subscription-filter:{FILTER}"].result == "deleted"
    assert not [i for i in items.values() if i.result in ("failed", "skipped")]
    assert not log_group_exists(LOG_GROUP)
    assert not exists(lambda: client("s3").head_bucket(Bucket=BUCKET))


def test_a_bucket_named_in_the_config_is_used_as_it_is_and_left_on_teardown(lab: dict, make_run: Any) -> None:
    # The lab's bucket, made beforehand (by CloudFormation there), already holding trail files.
    policy = cloudtrail_bucket_policy(LAB_BUCKET)
    make_bucket(LAB_BUCKET, policy)
    s3 = client("s3")
    s3.put_object(Bucket=LAB_BUCKET, Key=f"AWSLogs/123456789012/CloudTrail/{LAB_BUCKET}.json.gz", Body=b"{}")
    overrides = {"pipelines": {"cloudtrail": {"bucket": LAB_BUCKET}}}

    items = up(make_run(overrides))
    assert items[f"s3-bucket:{LAB_BUCKET}"].action == "noop"
    assert items[f"s3-bucket:{LAB_BUCKET}"].state == "external"
    assert f"s3-bucket:{BUCKET}" not in items, "no bucket of logpipe's own when one is named"
    assert trail()["S3BucketName"] == LAB_BUCKET
    selectors = client("cloudtrail").get_event_selectors(TrailName=TRAIL)["AdvancedEventSelectors"]
    excluded = [f["NotStartsWith"] for s in selectors for f in s["FieldSelectors"] if f["Field"] == "resources.ARN"]
    assert excluded == [[f"arn:aws:s3:::{LAB_BUCKET}/"]]

    items = teardown(make_run(overrides))
    assert items[f"s3-bucket:{LAB_BUCKET}"].action == "keep"
    assert trail() is None
    assert bucket_policy(LAB_BUCKET) == policy
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=LAB_BUCKET)["Contents"]] == [
        f"AWSLogs/123456789012/CloudTrail/{LAB_BUCKET}.json.gz"
    ]
    with pytest.raises(ClientError):
        s3.get_bucket_tagging(Bucket=LAB_BUCKET)  # never tagged as logpipe's


def test_a_named_bucket_that_does_not_exist_stops_up_before_any_write(lab: dict, make_run: Any) -> None:
    run = make_run({"pipelines": {"cloudtrail": {"bucket": "no-such-trail-bucket"}}})
    items = plan(run)
    with pytest.raises(PreflightError) as refused:
        run.engine.apply(list(items.values()))
    assert "s3-bucket no-such-trail-bucket: does not exist" in str(refused.value)
    assert run.counter.summary()["write"] == 0
    assert trail() is None


def test_a_trail_under_logpipes_name_without_its_tags_is_refused_and_left_alone(lab: dict, make_run: Any) -> None:
    theirs = "someone-elses-trail-bucket"
    make_bucket(theirs, cloudtrail_bucket_policy(theirs, TRAIL_ARN))
    ct = client("cloudtrail")
    ct.create_trail(Name=TRAIL, S3BucketName=theirs)
    ct.start_logging(Name=TRAIL)
    before = trail()

    run = make_run()
    items = plan(run)
    assert items[f"cloudtrail-trail:{TRAIL}"].action == "conflict"
    with pytest.raises(PreflightError) as refused:
        run.engine.apply(list(items.values()))
    message = str(refused.value)
    assert f"cloudtrail-trail {TRAIL}: exists but was not created by logpipe" in message
    assert run.counter.summary()["write"] == 0, run.counter.writes

    items = teardown(make_run())
    assert items[f"cloudtrail-trail:{TRAIL}"].action == "keep"
    assert not [i for i in items.values() if i.action == "delete"]
    assert trail() == before
    assert ct.get_trail_status(Name=TRAIL)["IsLogging"] is True
    assert ct.get_event_selectors(TrailName=TRAIL).get("AdvancedEventSelectors") in (None, [])


def test_an_untagged_log_group_under_logpipes_name_is_refused_and_left_alone(lab: dict, make_run: Any) -> None:
    logs = client("logs")
    logs.create_log_group(logGroupName=LOG_GROUP)
    logs.put_retention_policy(logGroupName=LOG_GROUP, retentionInDays=7)
    run = make_run()
    items = plan(run)
    with pytest.raises(PreflightError) as refused:
        run.engine.apply(list(items.values()))
    assert f"log-group {LOG_GROUP}: exists but was not created by logpipe" in str(refused.value)
    assert run.counter.summary()["write"] == 0

    teardown(make_run())
    assert retention() == 7
    assert logs.list_tags_log_group(logGroupName=LOG_GROUP).get("tags", {}) == {}


def test_up_refused_by_the_cli_exits_2_and_names_the_trail(lab: dict, write_config: Any) -> None:
    from click.testing import CliRunner

    from logpipe.cli import main

    theirs = "someone-elses-trail-bucket"
    make_bucket(theirs, cloudtrail_bucket_policy(theirs))
    client("cloudtrail").create_trail(Name=TRAIL, S3BucketName=theirs)
    config = write_config()
    result = CliRunner().invoke(main, ["--config", str(config), "-o", "json", "up", "cloudtrail"])
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert f"cloudtrail-trail {TRAIL}" in json.dumps(document)
