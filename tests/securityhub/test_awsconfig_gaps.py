"""The AWS Config / service-linked role gaps this pipeline fills in moto (sandbox/moto_gaps/awsconfig.py)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT, REGION
from tests.securityhub.support import client

RULE = {"ConfigRuleName": "r", "Source": {"Owner": "AWS", "SourceIdentifier": "CLOUD_TRAIL_ENABLED"}}


@pytest.mark.parametrize(
    ("service", "name"),
    [
        ("config.amazonaws.com", "AWSServiceRoleForConfig"),
        ("guardduty.amazonaws.com", "AWSServiceRoleForAmazonGuardDuty"),
        ("securityhub.amazonaws.com", "AWSServiceRoleForSecurityHub"),
    ],
)
def test_service_linked_roles_get_the_names_aws_gives_them(moto: None, service: str, name: str) -> None:
    role = client("iam").create_service_linked_role(AWSServiceName=service)["Role"]
    assert role["RoleName"] == name
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/{service}/{name}"
    assert client("iam").get_role(RoleName=name)["Role"]["Arn"] == role["Arn"]


def test_a_config_rule_needs_a_recorder(moto: None) -> None:
    config = client("config")
    with pytest.raises(ClientError) as refused:
        config.put_config_rule(ConfigRule=RULE)
    assert refused.value.response["Error"]["Code"] == "NoAvailableConfigurationRecorderException"
    config.put_configuration_recorder(ConfigurationRecorder={"name": "default", "roleARN": "arn:aws:iam::1:role/r"})
    config.put_config_rule(ConfigRule=RULE)
    assert [r["ConfigRuleName"] for r in config.describe_config_rules()["ConfigRules"]] == ["r"]


def test_a_delivery_channel_needs_an_existing_bucket(moto: None) -> None:
    config = client("config")
    config.put_configuration_recorder(ConfigurationRecorder={"name": "default", "roleARN": "arn:aws:iam::1:role/r"})
    with pytest.raises(ClientError) as refused:
        config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "no-such-bucket-here"})
    assert refused.value.response["Error"]["Code"] == "NoSuchBucketException"
    client("s3").create_bucket(Bucket="config-bucket-here", CreateBucketConfiguration={"LocationConstraint": REGION})
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "config-bucket-here"})
    assert config.describe_delivery_channels()["DeliveryChannels"][0]["s3BucketName"] == "config-bucket-here"


def test_an_unknown_rule_name_is_an_error_even_when_the_region_has_no_rule(moto: None) -> None:
    config = client("config")
    assert config.describe_config_rules()["ConfigRules"] == []
    with pytest.raises(ClientError) as refused:
        config.describe_config_rules(ConfigRuleNames=["nothing-here"])
    assert refused.value.response["Error"]["Code"] == "NoSuchConfigRuleException"
