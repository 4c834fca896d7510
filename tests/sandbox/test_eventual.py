"""moto_gaps.eventual: IAM propagation and slow changes as AWS shows them, which moto does not.

Each call that uses a role (or a Lambda permission) made less than N seconds ago answers the
error AWS documents for that case; once N seconds have passed, the same call goes through.
The emulator's clock is a fake one here, so no test waits.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from logpipe.sandbox.moto_gaps import eventual
from tests.conftest import ACCOUNT, REGION
from tests.support import FakeClock

DELAY = 5.0


@pytest.fixture
def clock(moto: None) -> Iterator[FakeClock]:
    fake = FakeClock()
    eventual.configure(iam_propagation=DELAY, slow_change=60.0, clock=fake.now)
    yield fake
    eventual.reset()


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def role(name: str, service: str, *, policy: bool = False) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    arn = client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    if policy:
        doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}
        client("iam").put_role_policy(RoleName=name, PolicyName="logpipe", PolicyDocument=json.dumps(doc))
    return str(arn)


def bucket(name: str) -> str:
    client("s3").create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


def function(role_arn: str, name: str = "fn") -> Any:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role_arn,
        Handler="handler.handler",
        Code={"ZipFile": buffer.getvalue()},
    )


def refused(call: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    return dict(caught.value.response["Error"])


def test_lambda_cannot_assume_a_role_made_seconds_ago(clock: FakeClock) -> None:
    arn = role("fn-role", "lambda.amazonaws.com")
    error = refused(lambda: function(arn))
    assert error["Code"] == "InvalidParameterValueException"
    assert error["Message"] == "The role defined for the function cannot be assumed by Lambda."
    clock.sleep(DELAY)
    assert function(arn)["Role"] == arn


def test_firehose_is_unable_to_assume_a_role_made_seconds_ago(clock: FakeClock) -> None:
    arn = role("stream-role", "firehose.amazonaws.com")
    destination = {"RoleARN": arn, "BucketARN": f"arn:aws:s3:::{bucket('stream-backup')}"}

    def create() -> Any:
        return client("firehose").create_delivery_stream(
            DeliveryStreamName="s", DeliveryStreamType="DirectPut", ExtendedS3DestinationConfiguration=destination
        )

    error = refused(create)
    assert error["Code"] == "InvalidArgumentException"
    assert error["Message"] == f"Firehose is unable to assume role {arn}. Please check the role provided."
    clock.sleep(DELAY)
    assert create()["DeliveryStreamARN"].endswith("deliverystream/s")


def test_cloudtrail_refuses_a_new_role_then_its_new_policy(clock: FakeClock) -> None:
    trail_bucket = bucket("trail-files")
    cloudtrail_may_write = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": ["s3:GetBucketAcl", "s3:PutObject"],
                "Resource": ["arn:aws:s3:::trail-files", "arn:aws:s3:::trail-files/*"],
            }
        ],
    }
    client("s3").put_bucket_policy(Bucket=trail_bucket, Policy=json.dumps(cloudtrail_may_write))
    client("logs").create_log_group(logGroupName="trail")
    group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:trail:*"
    arn = role("trail-role", "cloudtrail.amazonaws.com")

    def create() -> Any:
        return client("cloudtrail").create_trail(
            Name="trail", S3BucketName=trail_bucket, CloudWatchLogsLogGroupArn=group_arn, CloudWatchLogsRoleArn=arn
        )

    assert refused(create) == {
        "Code": "InvalidCloudWatchLogsRoleArnException",
        "Message": "Access denied. Check the trust relationships for your role.",
    }
    clock.sleep(DELAY)
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}
    client("iam").put_role_policy(RoleName="trail-role", PolicyName="logpipe", PolicyDocument=json.dumps(doc))
    assert refused(create) == {
        "Code": "InvalidCloudWatchLogsLogGroupArnException",
        "Message": "Access denied. Check the permissions for your role.",
    }
    clock.sleep(DELAY)
    assert create()["Name"] == "trail"


def test_config_refuses_a_new_recorder_role_and_cannot_deliver_with_a_changed_one(clock: FakeClock) -> None:
    config = client("config")
    arn = role("config-role", "config.amazonaws.com")
    recorder = {"name": "r", "roleARN": arn, "recordingGroup": {"allSupported": True}}
    assert refused(lambda: config.put_configuration_recorder(ConfigurationRecorder=recorder))["Code"] == (
        "InvalidRoleException"
    )
    clock.sleep(DELAY)
    config.put_configuration_recorder(ConfigurationRecorder=recorder)

    # The recorder's role has its trust policy rewritten (a repair): the channel cannot use it yet.
    trust = client("iam").get_role(RoleName="config-role")["Role"]["AssumeRolePolicyDocument"]
    client("iam").update_assume_role_policy(RoleName="config-role", PolicyDocument=json.dumps(trust))
    channel = {"name": "c", "s3BucketName": bucket("config-files")}
    assert refused(lambda: config.put_delivery_channel(DeliveryChannel=channel)) == {
        "Code": "InsufficientDeliveryPolicyException",
        "Message": f"Insufficient delivery policy to s3 bucket: config-files, unable to assume role: {arn}.",
    }
    clock.sleep(DELAY)
    config.put_delivery_channel(DeliveryChannel=channel)


def test_cloudwatch_logs_cannot_execute_a_function_whose_permission_was_just_added(clock: FakeClock) -> None:
    arn = role("fn-role", "lambda.amazonaws.com")
    clock.sleep(DELAY)
    function_arn = function(arn)["FunctionArn"]
    client("logs").create_log_group(logGroupName="g")
    client("lambda").add_permission(
        FunctionName="fn",
        StatementId="logs",
        Action="lambda:InvokeFunction",
        Principal="logs.amazonaws.com",
        SourceArn=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:g:*",
    )

    def subscribe() -> Any:
        return client("logs").put_subscription_filter(
            logGroupName="g", filterName="f", filterPattern="", destinationArn=function_arn
        )

    assert refused(subscribe) == {
        "Code": "InvalidParameterException",
        "Message": "Could not execute the lambda function. Make sure you have given CloudWatch Logs "
        "permission to execute your function.",
    }
    clock.sleep(DELAY)
    subscribe()


def test_without_a_delay_nothing_is_refused(moto: None) -> None:
    eventual.configure(iam_propagation=0)
    try:
        assert function(role("fn-role", "lambda.amazonaws.com"))["FunctionName"] == "fn"
    finally:
        eventual.reset()


def test_a_domain_applies_a_new_access_policy_and_a_recorder_starts_over_a_while(clock: FakeClock) -> None:

    opensearch = client("opensearch")
    opensearch.create_domain(DomainName="dom", EngineVersion="OpenSearch_2.17")
    opensearch.update_domain_config(DomainName="dom", AccessPolicies='{"Version": "2012-10-17", "Statement": []}')

    def policy_state() -> str:
        return str(
            opensearch.describe_domain_config(DomainName="dom")["DomainConfig"]["AccessPolicies"]["Status"]["State"]
        )

    assert policy_state() == "Processing"
    clock.sleep(60)
    assert policy_state() == "Active"

    config = client("config")
    arn = role("config-role", "config.amazonaws.com")
    clock.sleep(DELAY)
    config.put_configuration_recorder(ConfigurationRecorder={"name": "r", "roleARN": arn})
    config.put_delivery_channel(DeliveryChannel={"name": "c", "s3BucketName": bucket("config-files")})
    config.start_configuration_recorder(ConfigurationRecorderName="r")

    def last_status() -> str:
        return str(config.describe_configuration_recorder_status()["ConfigurationRecordersStatus"][0]["lastStatus"])

    assert last_status() == "PENDING"
    clock.sleep(60)
    assert last_status() == "SUCCESS"
