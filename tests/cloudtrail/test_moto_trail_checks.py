"""The sandbox's CloudTrail gap filler (moto_gaps/cloudtrail_delivery.py): CreateTrail and UpdateTrail
refuse what AWS refuses, so a wrong bucket policy or CloudWatch Logs role fails in tests too."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.cloudtrail.support import client, cloudtrail_bucket_policy, make_bucket
from tests.conftest import ACCOUNT, REGION

NAME = "checked-trail"
ARN = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{NAME}"
BUCKET = "checked-trail-bucket"
GROUP = "/checked/trail"
GROUP_ARN = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{GROUP}:*"
STREAMS = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{GROUP}:log-stream:{ACCOUNT}_CloudTrail_{REGION}*"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def role(name: str, *, resource: str = STREAMS, trust: dict[str, Any] = TRUST) -> str:
    iam = client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": resource}
        ],
    }
    iam.put_role_policy(RoleName=name, PolicyName="logs", PolicyDocument=json.dumps(policy))
    return arn


def error(call: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response["Error"]["Code"]


@pytest.fixture
def ready(moto: None) -> dict[str, Any]:
    make_bucket(BUCKET, cloudtrail_bucket_policy(BUCKET, ARN))
    client("logs").create_log_group(logGroupName=GROUP)
    return {"role": role("checked-role")}


def test_a_valid_trail_with_cloudwatch_logs_is_created(ready: dict[str, Any]) -> None:
    made = client("cloudtrail").create_trail(
        Name=NAME, S3BucketName=BUCKET, CloudWatchLogsLogGroupArn=GROUP_ARN, CloudWatchLogsRoleArn=ready["role"]
    )
    assert made["TrailARN"] == ARN


def test_bucket_without_policy_or_for_another_trail_is_refused(ready: dict[str, Any]) -> None:
    ct = client("cloudtrail")
    make_bucket("no-policy-bucket")
    assert error(lambda: ct.create_trail(Name=NAME, S3BucketName="no-policy-bucket")) == (
        "InsufficientS3BucketPolicyException"
    )
    other = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/another-trail"
    make_bucket("other-trail-bucket", cloudtrail_bucket_policy("other-trail-bucket", other))
    assert error(lambda: ct.create_trail(Name=NAME, S3BucketName="other-trail-bucket")) == (
        "InsufficientS3BucketPolicyException"
    )


def test_a_key_prefix_the_policy_does_not_cover_is_refused(ready: dict[str, Any]) -> None:
    ct = client("cloudtrail")
    ct.create_trail(Name=NAME, S3BucketName=BUCKET)
    assert error(lambda: ct.update_trail(Name=NAME, S3KeyPrefix="elsewhere")) == "InsufficientS3BucketPolicyException"


def test_log_group_arn_must_name_an_existing_group_with_the_stream_wildcard(ready: dict[str, Any]) -> None:
    ct = client("cloudtrail")
    for wrong in (GROUP_ARN[:-2], GROUP_ARN.replace(GROUP, "/no/such/group")):
        assert (
            error(
                lambda wrong=wrong: ct.create_trail(
                    Name=NAME, S3BucketName=BUCKET, CloudWatchLogsLogGroupArn=wrong, CloudWatchLogsRoleArn=ready["role"]
                )
            )
            == "InvalidCloudWatchLogsLogGroupArnException"
        )


def test_role_must_exist_trust_cloudtrail_and_reach_the_trails_stream(ready: dict[str, Any]) -> None:
    ct = client("cloudtrail")
    lambda_trust = json.loads(json.dumps(TRUST).replace("cloudtrail.amazonaws.com", "lambda.amazonaws.com"))
    roles = [
        f"arn:aws:iam::{ACCOUNT}:role/no-such-role",
        role("wrong-trust", trust=lambda_trust),
        role("other-group", resource=STREAMS.replace(GROUP, "/other/group")),
    ]
    for arn in roles:
        assert (
            error(
                lambda arn=arn: ct.create_trail(
                    Name=NAME, S3BucketName=BUCKET, CloudWatchLogsLogGroupArn=GROUP_ARN, CloudWatchLogsRoleArn=arn
                )
            )
            == "InvalidCloudWatchLogsRoleArnException"
        )
    assert (
        error(lambda: ct.create_trail(Name=NAME, S3BucketName=BUCKET, CloudWatchLogsLogGroupArn=GROUP_ARN))
        == "InvalidCloudWatchLogsRoleArnException"
    )


def test_a_second_trail_of_the_same_name_is_refused(ready: dict[str, Any]) -> None:
    ct = client("cloudtrail")
    ct.create_trail(Name=NAME, S3BucketName=BUCKET)
    assert error(lambda: ct.create_trail(Name=NAME, S3BucketName=BUCKET)) == "TrailAlreadyExistsException"
