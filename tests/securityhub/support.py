"""Helpers the Security Hub tests share: run the pipeline in-process, read what AWS holds."""

from __future__ import annotations

from typing import Any

from logpipe.engine.runner import Item
from tests.conftest import ACCOUNT, REGION
from tests.support import client

TARGET = ("securityhub",)
RECORDER = "demogo-recorder"
CHANNEL = "demogo-delivery-channel"
CONFIG_BUCKET = f"demogo-config-{ACCOUNT}"
SLR = "AWSServiceRoleForConfig"
SLR_ARN = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/config.amazonaws.com/{SLR}"
TRANSFORM = "demogo-securityhub-transform"
PRODUCTS = ("guardduty", "config")
#: Every route `up securityhub` makes by default: one per product, then the catch-all.
ROUTES = (*PRODUCTS, "other")
OWNER_TAGS = {"logpipe:stack": "demogo", "managed-by": "logpipe"}


def stream(product: str) -> str:
    return f"demogo-securityhub-{product}"


def stream_arn(product: str) -> str:
    return f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/{stream(product)}"


def product_arn(product: str, region: str = REGION) -> str:
    return f"arn:aws:securityhub:{region}::product/aws/{product}"


def product_wildcard(product: str) -> str:
    """What a product rule matches: the product's ARN in any region."""
    return f"arn:aws:securityhub:*::product/aws/{product}"


def plan(run: Any) -> dict[str, Item]:
    pipes = run.pipelines(TARGET)
    run.preflight(pipes)
    return {i.resource.key: i for i in run.engine.plan(run.declare(pipes))}


def up(run: Any) -> dict[str, Item]:
    items = plan(run)
    run.engine.apply(list(items.values()))
    return items


def teardown(run: Any) -> dict[str, Item]:
    pipes = run.pipelines(TARGET, for_teardown=True)
    run.preflight([])
    items = run.engine.plan_teardown(run.declare(pipes), keep=run.others_keys(pipes))
    run.engine.teardown(items)
    return {i.resource.key: i for i in items}


def hub_tags() -> dict[str, str]:
    securityhub = client("securityhub")
    return securityhub.list_tags_for_resource(ResourceArn=securityhub.describe_hub()["HubArn"])["Tags"]


def detector() -> dict[str, Any] | None:
    guardduty = client("guardduty")
    ids = guardduty.list_detectors()["DetectorIds"]
    if not ids:
        return None
    return {"Id": ids[0], **guardduty.get_detector(DetectorId=ids[0])}


def recording(name: str) -> bool:
    statuses = client("config").describe_configuration_recorder_status()["ConfigurationRecordersStatus"]
    return any(s["name"] == name and s["recording"] for s in statuses)


def security_hub_enabled() -> bool:
    try:
        client("securityhub").describe_hub()
    except client("securityhub").exceptions.InvalidAccessException:
        return False
    return True


def turn_services_on_by_hand(*, frequency: str = "SIX_HOURS") -> dict[str, Any]:
    """What an account looks like where somebody already runs Config, Security Hub and GuardDuty."""
    s3 = client("s3")
    s3.create_bucket(Bucket="their-config-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    config = client("config")
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/their-config-role"
    config.put_configuration_recorder(
        ConfigurationRecorder={
            "name": "default",
            "roleARN": role_arn,
            "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": False},
        }
    )
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "their-config-bucket"})
    config.start_configuration_recorder(ConfigurationRecorderName="default")
    client("securityhub").enable_security_hub(EnableDefaultStandards=False)
    detector_id = client("guardduty").create_detector(Enable=True, FindingPublishingFrequency=frequency)["DetectorId"]
    return {"detector_id": detector_id, "recorder_role": role_arn}
