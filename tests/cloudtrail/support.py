"""Helpers the CloudTrail tests share: run the pipeline in-process, read what AWS holds."""

from __future__ import annotations

import json
from typing import Any

from logpipe.engine.runner import Item
from tests.conftest import ACCOUNT, REGION
from tests.support import client

TRAIL = "demogo-trail"
TRAIL_ARN = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{TRAIL}"
BUCKET = f"demogo-cloudtrail-{ACCOUNT}"
LOG_GROUP = "/aws/cloudtrail/demogo"
LOG_GROUP_ARN = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{LOG_GROUP}"
FILTER = "demogo-cloudtrail"
FUNCTION = "demogo-cloudtrail-indexer"
INDEXER_ROLE = "demogo-cloudtrail-indexer-role"
LOGS_ROLE = "demogo-cloudtrail-logs-role"


def plan(run: Any, targets: tuple[str, ...] = ("cloudtrail",)) -> dict[str, Item]:
    pipes = run.pipelines(targets)
    run.preflight(pipes)
    return {i.resource.key: i for i in run.engine.plan(run.declare(pipes))}


def up(run: Any, targets: tuple[str, ...] = ("cloudtrail",)) -> dict[str, Item]:
    items = plan(run, targets)
    run.engine.apply(list(items.values()))
    return items


def teardown(run: Any, targets: tuple[str, ...] = ("cloudtrail",)) -> dict[str, Item]:
    pipes = run.pipelines(targets, for_teardown=True)
    items = run.engine.plan_teardown(run.declare(pipes), keep=run.others_keys(pipes))
    run.engine.teardown(items)
    return {i.resource.key: i for i in items}


def trail() -> dict[str, Any] | None:
    found = client("cloudtrail").describe_trails(trailNameList=[TRAIL])["trailList"]
    return next((t for t in found if t["Name"] == TRAIL), None)


def trail_tags() -> dict[str, str]:
    tags = client("cloudtrail").list_tags(ResourceIdList=[TRAIL_ARN])["ResourceTagList"][0].get("TagsList", [])
    return {t["Key"]: t["Value"] for t in tags}


def bucket_policy(bucket: str) -> dict[str, Any]:
    return json.loads(client("s3").get_bucket_policy(Bucket=bucket)["Policy"])


def retention() -> int | None:
    groups = client("logs").describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"]
    return next(g.get("retentionInDays") for g in groups if g["logGroupName"] == LOG_GROUP)


def cloudtrail_bucket_policy(bucket: str, trail_arn: str | None = None) -> dict[str, Any]:
    """The policy the CloudTrail console writes on a bucket it may deliver to (optionally for one trail)."""
    condition = {"StringEquals": {"aws:SourceArn": trail_arn}} if trail_arn else {}
    write_condition = {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}
    if trail_arn:
        write_condition["StringEquals"]["aws:SourceArn"] = trail_arn
    acl: dict[str, Any] = {
        "Sid": "AWSCloudTrailAclCheck",
        "Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "s3:GetBucketAcl",
        "Resource": f"arn:aws:s3:::{bucket}",
    }
    if condition:
        acl["Condition"] = condition
    return {
        "Version": "2012-10-17",
        "Statement": [
            acl,
            {
                "Sid": "AWSCloudTrailWrite",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{bucket}/AWSLogs/{ACCOUNT}/*",
                "Condition": write_condition,
            },
        ],
    }


def make_bucket(name: str, policy: dict[str, Any] | None = None) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    if policy is not None:
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
