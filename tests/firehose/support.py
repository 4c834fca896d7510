"""Helpers the Firehose pipeline tests share: run pipelines in-process, read what AWS holds."""

from __future__ import annotations

from typing import Any

from logpipe.engine.runner import Item
from tests.conftest import ACCOUNT, REGION
from tests.support import client

DOMAIN_ARN = f"arn:aws:es:{REGION}:{ACCOUNT}:domain/demogo-opensearch"
BUCKET = "demogo-kdf-backup"
STREAMS = {"dns": "demogo-dns", "waf": "aws-waf-logs-demogo", "flowlog": "demogo-flowlog"}
ROLES = {name: f"{stream}-firehose" for name, stream in STREAMS.items()}
QUERY_LOG_CONFIG = "demogo-dns-query-log"
FLOW_LOG = "demogo-flowlog"
WAF_FUNCTION = "demogo-waf-log-to-opensearch"
FLOWLOG_FUNCTION = "demogo-vpc-flow-log-to-opensearch"
WEB_ACL = "demogo-webacl"
OWNER_TAGS = {"logpipe:stack": "demogo", "managed-by": "logpipe"}


def stream_arn(name: str) -> str:
    return f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/{name}"


# running ------------------------------------------------------------------------------
def plan(run: Any, targets: tuple[str, ...], *, adopt: bool = False) -> dict[str, Item]:
    pipes = run.pipelines(targets)
    run.preflight(pipes)
    return {i.resource.key: i for i in run.engine.plan(run.declare(pipes), adopt=adopt)}


def up(run: Any, targets: tuple[str, ...], *, adopt: bool = False) -> dict[str, Item]:
    items = plan(run, targets, adopt=adopt)
    run.engine.apply(list(items.values()))
    failed = {k: i.error for k, i in items.items() if i.result in ("failed", "skipped")}
    assert not failed, failed
    return items


def teardown(run: Any, targets: tuple[str, ...]) -> dict[str, Item]:
    pipes = run.pipelines(targets, for_teardown=True)
    items = run.engine.plan_teardown(run.declare(pipes), keep=run.others_keys(pipes))
    run.engine.teardown(items)
    return {i.resource.key: i for i in items}


def created(items: dict[str, Item]) -> set[str]:
    return {k for k, i in items.items() if i.result == "created"}


# reading AWS --------------------------------------------------------------------------
def stream(name: str) -> dict[str, Any] | None:
    try:
        return client("firehose").describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    except client("firehose").exceptions.ResourceNotFoundException:
        return None


def opensearch_destination(name: str) -> dict[str, Any]:
    found = stream(name)
    assert found is not None, f"no stream {name}"
    return found["Destinations"][0]["AmazonopensearchserviceDestinationDescription"]


def stream_tags(name: str) -> dict[str, str]:
    tags = client("firehose").list_tags_for_delivery_stream(DeliveryStreamName=name)["Tags"]
    return {t["Key"]: t["Value"] for t in tags}


def role_exists(name: str) -> bool:
    try:
        client("iam").get_role(RoleName=name)
    except client("iam").exceptions.NoSuchEntityException:
        return False
    return True


def statement_for(policy: dict[str, Any], action: str) -> list[str]:
    """Every resource ``action`` is allowed on."""
    found: list[str] = []
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if action in actions:
            resources = statement["Resource"]
            found.extend(resources if isinstance(resources, list) else [resources])
    return found


def query_log_configs() -> list[dict[str, Any]]:
    return client("route53resolver").list_resolver_query_log_configs()["ResolverQueryLogConfigs"]


def query_log_associations() -> list[dict[str, Any]]:
    return client("route53resolver").list_resolver_query_log_config_associations()["ResolverQueryLogConfigAssociations"]


def flow_logs(vpc_id: str) -> list[dict[str, Any]]:
    return client("ec2").describe_flow_logs(Filter=[{"Name": "resource-id", "Values": [vpc_id]}])["FlowLogs"]


def web_acl_arn(name: str = WEB_ACL) -> str:
    acls = client("wafv2").list_web_acls(Scope="REGIONAL")["WebACLs"]
    return next(a["ARN"] for a in acls if a["Name"] == name)


def waf_logging(acl_arn: str) -> dict[str, Any] | None:
    wafv2 = client("wafv2")
    try:
        return wafv2.get_logging_configuration(ResourceArn=acl_arn)["LoggingConfiguration"]
    except wafv2.exceptions.WAFNonexistentItemException:
        return None


def log_group_names(prefix: str) -> list[str]:
    return [g["logGroupName"] for g in client("logs").describe_log_groups(logGroupNamePrefix=prefix)["logGroups"]]


def function_exists(name: str) -> bool:
    try:
        client("lambda").get_function(FunctionName=name)
    except client("lambda").exceptions.ResourceNotFoundException:
        return False
    return True


def make_foreign_stream(name: str, *, bucket: str = "someone-elses-bucket") -> str:
    """A stream somebody made by hand (S3 destination, no logpipe tags)."""
    s3 = client("s3")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    return client("firehose").create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/someone",
            "BucketARN": f"arn:aws:s3:::{bucket}",
        },
    )["DeliveryStreamARN"]
