"""CloudTrail → CloudWatch Logs → subscription filter → logpipe's indexing Lambda → OpenSearch.

The lab's "CloudTrail to OpenSearch" section as declarations: a multi-region trail with
management and S3 data events delivering to a bucket and a log group, the role CloudTrail
writes to the log group with, the indexer (``lambdas/cloudtrail_indexer.py``) with its
role and log group, the permission letting CloudWatch Logs invoke it, and the filter.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import Field, field_validator

from logpipe.config import LambdaSettings, PipelineSettings, check_bucket_name
from logpipe.engine.context import Context
from logpipe.engine.model import Ref, Resource
from logpipe.lambdas.cloudtrail_indexer import FLAT_OBJECT_FIELDS
from logpipe.opensearch import mappings as m
from logpipe.pipelines import shared
from logpipe.pipelines.base import BucketFailures, IndexSpec, LogGroupErrors, Pipeline, Probe
from logpipe.pipelines.search import Row
from logpipe.resources.cloudtrail_trail import CloudTrailTrail
from logpipe.resources.iam_role import IamRole, allow, policy_document, service_trust
from logpipe.resources.lambda_permission import LambdaPermission
from logpipe.resources.log_group import LogGroup
from logpipe.resources.s3_bucket import S3Bucket
from logpipe.resources.subscription_filter import SubscriptionFilter

INDEXER = "cloudtrail-indexer"
LOGS_ROLE = "cloudtrail-logs-role"
PERMISSION_ID = "cloudwatch-logs-cloudtrail"

# AWS naming rules, checked before any call so every problem is reported at once.
_TRAIL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,126}[A-Za-z0-9]$")
_LOG_GROUP_NAME = re.compile(r"^[A-Za-z0-9_/.#-]{1,512}$")
_FILTER_NAME = re.compile(r"^[^:*]{1,512}$")
_INDEX_PREFIX = re.compile(r'^[a-z0-9][^A-Z\s\\/*?"<>|,#:]{0,200}$')
MARKER_FIELD = "eventID"
REPLACED_FIELD = "@replaced_id"


class CloudTrailSettings(PipelineSettings):
    trail_name: str | None = None
    bucket: str | None = None
    log_group: str | None = None
    retention_days: Literal[
        1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653
    ] = 30
    subscription_filter: str | None = None
    index_prefix: str = "cwl"
    max_bulk_bytes: Annotated[int, Field(ge=65536, le=100 * 1024 * 1024)] = 5 * 1024 * 1024
    failed_prefix: str = "cloudtrail-failed/"
    data_events: bool = True
    indexer: LambdaSettings = LambdaSettings(memory_mb=512, timeout_seconds=300)

    @field_validator("bucket")
    @classmethod
    def _bucket_name(cls, value: str | None) -> str | None:
        return check_bucket_name(value)


#: Types that matter in an indexed CloudTrail record (everything else: keyword). ``@``-fields are the
#: indexer's (the shape of the console's LogsToElasticsearch function).
FIELDS: dict[str, dict[str, Any]] = {
    "eventTime": m.date(),
    "@timestamp": m.date(),
    "@message": {"type": "text"},
    "@id": m.keyword(),
    "@owner": m.keyword(),
    "@log_group": m.keyword(),
    "@log_stream": m.keyword(),
    REPLACED_FIELD: m.keyword(),
    MARKER_FIELD: m.keyword(),
    # Not an IP: "ssm.amazonaws.com", "AWS Internal" occur (FORMAT_NOTES).
    "sourceIPAddress": m.keyword(),
    "errorMessage": m.text_and_keyword(),
    "resources.ARN": m.keyword(),
    "resources.accountId": m.keyword(),
    "resources.type": m.keyword(),
    "tlsDetails.tlsVersion": m.keyword(),
    "tlsDetails.cipherSuite": m.keyword(),
    "tlsDetails.clientProvidedHostHeader": m.keyword(),
    # What the dashboard (dashboards/cloudtrail.ndjson) aggregates on; declared so a renamed
    # field fails the dashboard check instead of silently emptying a panel.
    "eventSource": m.keyword(),
    "eventName": m.keyword(),
    "errorCode": m.keyword(),
    "awsRegion": m.keyword(),
    "userIdentity.arn": m.keyword(),
    "userIdentity.type": m.keyword(),
}

#: Objects whose shape depends on the API called: ``requestParameters`` / ``responseElements`` /
#: ``additionalEventData`` / ``serviceEventDetails`` differ per service and call (``responseElements``
#: is ``{"ConsoleLogin": "Success"}`` for a sign-in, a credentials object for AssumeRole, null for
#: DescribeInstances); ``insightDetails`` mixes integer and fractional averages;
#: ``webIdFederationData`` carries provider claim names with dots and colons as keys. The indexer
#: shapes them for the engine's flat_object mode; ``resources`` and ``tlsDetails`` are stable.
VARIABLE: tuple[str, ...] = FLAT_OBJECT_FIELDS


def trail_name(ctx: Context) -> str:
    return _settings(ctx).trail_name or ctx.name("trail")


def trail_bucket_name(ctx: Context) -> str:
    return _settings(ctx).bucket or ctx.name("cloudtrail", ctx.account_id)


def log_group_name(ctx: Context) -> str:
    return _settings(ctx).log_group or f"/aws/cloudtrail/{ctx.prefix}"


def filter_name(ctx: Context) -> str:
    return _settings(ctx).subscription_filter or ctx.name("cloudtrail")


def _settings(ctx: Context) -> CloudTrailSettings:
    return ctx.config.pipelines.cloudtrail


def event_selectors(ctx: Context) -> list[dict[str, Any]]:
    """Management events, read and write; with ``data_events``, S3 object events of every bucket.

    The trail's own bucket is left out of the data events: each log file CloudTrail delivers
    there would otherwise be logged as an event, and delivered, and logged again.
    """
    selectors: list[dict[str, Any]] = [
        {
            "Name": "Management events, read and write",
            "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}],
        }
    ]
    if _settings(ctx).data_events:
        selectors.append(
            {
                "Name": "S3 data events, all buckets but the trail's own",
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Data"]},
                    {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                    {
                        "Field": "resources.ARN",
                        "NotStartsWith": [f"arn:{ctx.partition}:s3:::{trail_bucket_name(ctx)}/"],
                    },
                ],
            }
        )
    return selectors


def trail_bucket_policy(ctx: Context) -> dict[str, Any]:
    """What CloudTrail needs on its bucket, for this one trail only (aws:SourceArn)."""
    bucket_arn = f"arn:{ctx.partition}:s3:::{trail_bucket_name(ctx)}"
    trail_arn = ctx.arn("cloudtrail", f"trail/{trail_name(ctx)}")
    principal = {"Service": "cloudtrail.amazonaws.com"}
    return policy_document(
        {
            "Sid": "AWSCloudTrailAclCheck",
            "Effect": "Allow",
            "Principal": principal,
            "Action": "s3:GetBucketAcl",
            "Resource": bucket_arn,
            "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}},
        },
        {
            "Sid": "AWSCloudTrailWrite",
            "Effect": "Allow",
            "Principal": principal,
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/AWSLogs/{ctx.account_id}/*",
            "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": trail_arn}},
        },
    )


def cloudtrail_record(ctx: Context, marker: str) -> dict[str, Any]:
    """A CloudTrail record as CloudTrail writes it to the trail's log group."""
    return {
        "eventVersion": "1.11",
        "eventTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "logpipe.amazonaws.com",
        "eventName": "Verify",
        "awsRegion": ctx.region,
        "sourceIPAddress": "logpipe",
        "userAgent": "logpipe verify",
        MARKER_FIELD: marker,
        "eventType": "AwsApiCall",
        "recipientAccountId": ctx.account_id,
        "readOnly": True,
        "managementEvent": True,
    }


class CloudTrailPipeline(Pipeline):
    name = "cloudtrail"
    summary = "CloudTrail trail → CloudWatch Logs → indexing Lambda → OpenSearch (cwl-*)"
    settings = CloudTrailSettings
    dashboard = "dashboards/cloudtrail.ndjson"

    def source_resources(self, ctx: Context) -> list[Resource]:
        settings = _settings(ctx)
        domain = shared.domain(ctx)
        backup = shared.backup_bucket(ctx)
        if settings.bucket:
            bucket = S3Bucket(settings.bucket, policy="external")
        else:
            bucket = S3Bucket(trail_bucket_name(ctx), policy_document=trail_bucket_policy(ctx))

        log_group = LogGroup(log_group_name(ctx), retention_days=settings.retention_days)
        # CloudTrail names its streams <account>_CloudTrail_<home region>[_n]; the role reaches no others.
        streams = f"{log_group.arn(ctx)}:log-stream:{ctx.account_id}_CloudTrail_{ctx.region}*"
        logs_role = IamRole(
            ctx.name(LOGS_ROLE),
            trust=service_trust("cloudtrail.amazonaws.com"),
            inline_policy=policy_document(allow(["logs:CreateLogStream", "logs:PutLogEvents"], streams)),
            description=f"logpipe: CloudTrail trail {trail_name(ctx)} writes to {log_group.name}",
        )
        trail = CloudTrailTrail(
            trail_name(ctx),
            bucket=Ref(bucket, "name"),
            log_group_arn=Ref(log_group, "arn", "{}:*"),
            cloudwatch_logs_role_arn=Ref(logs_role, "arn"),
            advanced_event_selectors=event_selectors(ctx),
        )

        failed_objects = f"arn:{ctx.partition}:s3:::{ctx.config.backup_bucket_name}/{settings.failed_prefix}*"
        indexer_logs, indexer_role, indexer = shared.lambda_function(
            ctx,
            INDEXER,
            module="cloudtrail_indexer",
            settings=settings.indexer,
            environment={
                "OPENSEARCH_ENDPOINT": Ref(domain, "endpoint"),
                "INDEX_PREFIX": settings.index_prefix,
                "MAX_BULK_BYTES": settings.max_bulk_bytes,
                "FAILED_BUCKET": Ref(backup, "name"),
                "FAILED_PREFIX": settings.failed_prefix,
                "FLAT_OBJECT_MODE": Ref(domain, "flat_object_mode"),
            },
            statements=[shared.domain_write_statement(domain), allow("s3:PutObject", failed_objects)],
            description="logpipe: indexes CloudTrail records from CloudWatch Logs into OpenSearch",
        )
        permission = LambdaPermission(
            indexer,
            statement_id=PERMISSION_ID,
            principal="logs.amazonaws.com",
            source_arn=Ref(log_group, "arn", "{}:*"),
        )
        subscription = SubscriptionFilter(
            filter_name(ctx),
            log_group=log_group,
            destination_arn=Ref(indexer, "arn"),
            filter_pattern="",  # every event: each one is a CloudTrail record
            depends_on=(permission,),
        )
        return [
            domain,
            backup,
            bucket,
            log_group,
            logs_role,
            trail,
            indexer_logs,
            indexer_role,
            indexer,
            permission,
            subscription,
        ]

    def checks(self, ctx: Context) -> list[str]:
        settings = _settings(ctx)
        problems = []
        if not _TRAIL_NAME.match(trail_name(ctx)) or re.search(r"[._-]{2}", trail_name(ctx)):
            problems.append(
                f"pipelines.cloudtrail.trail_name: {trail_name(ctx)!r} is not a valid trail name "
                "(3-128 letters, digits, '.', '_', '-', never two of those three in a row; "
                "starting and ending with a letter or digit)"
            )
        if not _LOG_GROUP_NAME.match(log_group_name(ctx)):
            problems.append(
                f"pipelines.cloudtrail.log_group: {log_group_name(ctx)!r} is not a valid log group name "
                "(1-512 letters, digits, '_', '-', '/', '.', '#')"
            )
        if not _FILTER_NAME.match(filter_name(ctx)):
            problems.append(
                f"pipelines.cloudtrail.subscription_filter: {filter_name(ctx)!r} is not a valid filter name "
                "(1-512 characters, no ':' or '*')"
            )
        if not _INDEX_PREFIX.match(settings.index_prefix):
            problems.append(
                f"pipelines.cloudtrail.index_prefix: {settings.index_prefix!r} is not a valid OpenSearch index "
                'name start (lowercase, no spaces or \\ / * ? " < > | , # :)'
            )
        prefix = settings.failed_prefix
        if prefix.startswith("/") or any(c in prefix for c in "*?$"):
            problems.append(
                f"pipelines.cloudtrail.failed_prefix: {prefix!r} must be an S3 key prefix without a leading '/' "
                "or the characters * ? $ (they would widen the indexer's s3:PutObject permission)"
            )
        if trail_bucket_name(ctx) == ctx.config.backup_bucket_name:
            problems.append(
                f"pipelines.cloudtrail.bucket: {trail_bucket_name(ctx)} is also the backup bucket; "
                "keep trail files and failed documents in separate buckets"
            )
        return problems

    def index(self, ctx: Context) -> IndexSpec:
        return IndexSpec(
            pattern=f"{_settings(ctx).index_prefix}-*",
            time_field="eventTime",
            fields=FIELDS,
            description="CloudTrail records indexed from CloudWatch Logs by logpipe",
            variable=VARIABLE,
            replaced_field=REPLACED_FIELD,
        )

    def writer_role_names(self, ctx: Context) -> list[str]:
        return [f"{ctx.name(INDEXER)}-role"]

    def probes(self, ctx: Context) -> list[Probe]:
        """A record written to the trail's log group, as CloudTrail itself does."""
        group = log_group_name(ctx)

        def send(ctx: Context, marker: str) -> None:
            logs = ctx.aws.client("logs")
            stream = f"{ctx.account_id}_CloudTrail_{ctx.region}_logpipe-verify"
            with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                logs.create_log_stream(logGroupName=group, logStreamName=stream)
            logs.put_log_events(
                logGroupName=group,
                logStreamName=stream,
                logEvents=[
                    {"timestamp": int(time.time() * 1000), "message": json.dumps(cloudtrail_record(ctx, marker))}
                ],
            )

        indexer = ctx.name(INDEXER)
        errors = (
            LogGroupErrors(f"/aws/lambda/{indexer}", f"function {indexer}", shared.LAMBDA_ERROR_PATTERN),
            BucketFailures(ctx.config.backup_bucket_name, _settings(ctx).failed_prefix, f"function {indexer}"),
        )
        return [Probe(self.name, f"log group {group}", self.index(ctx).pattern, MARKER_FIELD, send, errors=errors)]

    def health(self, ctx: Context) -> list[Row]:
        """Mapping and freshness in cwl-* (the base rows), plus whether the trail logs and reaches its log group."""
        return [*super().health(ctx), *self._trail_health(ctx)]

    def _trail_health(self, ctx: Context) -> list[Row]:
        arn = ctx.arn("cloudtrail", f"trail/{trail_name(ctx)}")
        try:
            status = ctx.aws.read_once("cloudtrail", "get_trail_status", Name=arn)
        except (ClientError, BotoCoreError):
            return []  # a missing trail is already a row of its own in the resource table
        delivery_error = status.get("LatestCloudWatchLogsDeliveryError") or ""
        delivered = status.get("LatestCloudWatchLogsDeliveryTime")
        return [
            {
                "pipeline": self.name,
                "check": "trail logging",
                "value": "on" if status.get("IsLogging") else "off",
                "ok": bool(status.get("IsLogging")),
                "detail": trail_name(ctx),
            },
            {
                "pipeline": self.name,
                "check": "delivery to CloudWatch Logs",
                "value": "failing" if delivery_error else (str(delivered) if delivered else "none yet"),
                "ok": not delivery_error,
                "detail": delivery_error or log_group_name(ctx),
            },
        ]
