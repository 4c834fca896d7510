"""securityhub: AWS Config + GuardDuty → Security Hub → EventBridge → Firehose (+ transform) → OpenSearch.

The lab's "Security Hub" section. The account-wide services (Config recorder, Security Hub,
GuardDuty) are ``shared``: created when the region has none, used as they are otherwise,
never turned off unless logpipe turned them on. Each product (``guardduty``, ``config``,
any other Security Hub product) gets its own EventBridge rule, Firehose stream and index,
so products never mix; each rule's target is its stream, reached through a role that may
put records into that stream only.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from logpipe.config import FirehoseSettings, LambdaSettings, PipelineSettings
from logpipe.engine.context import Context
from logpipe.engine.model import Ref, Resource
from logpipe.lambdas.securityhub_transform import FLAT_OBJECT_FIELDS
from logpipe.opensearch import mappings as m
from logpipe.pipelines import shared
from logpipe.pipelines.base import IndexSpec, Pipeline, Probe
from logpipe.pipelines.firehose import firehose_probe, firehose_role_name, firehose_to_opensearch
from logpipe.resources.config_recorder import (
    ConfigDeliveryBucket,
    ConfigDeliveryChannel,
    ConfigRecorder,
    delivery_bucket_policy,
)
from logpipe.resources.config_rule import ConfigRule, rule_name
from logpipe.resources.eventbridge_rule import EventRule, EventTarget
from logpipe.resources.guardduty import GuardDutyDetector
from logpipe.resources.iam_role import IamRole, allow, policy_document
from logpipe.resources.security_hub import SecurityHub, SecurityHubStandard, standards_arn
from logpipe.securityhub_patterns import findings_pattern, product_arn, product_arn_problem, product_key

TRANSFORM_NAME = "securityhub-transform"
TARGET_ID = "firehose"
_NAME_MAX = 64  # Firehose stream, EventBridge rule and IAM role names
_EVENTS_ROLE_SUFFIX = "-events"
_INDEX = re.compile(r'^[a-z0-9][^A-Z\s\\/*?"<>|,#:]{0,200}$')
_MANAGED_RULE = re.compile(r"^[A-Z0-9_]{1,128}$")
MARKER_FIELD = "Id"

DEFAULT_CONFIG_RULES = (
    "CLOUD_TRAIL_ENABLED",
    "ROOT_ACCOUNT_MFA_ENABLED",
    "IAM_PASSWORD_POLICY",
    "IAM_ROOT_ACCESS_KEY_CHECK",
    "MFA_ENABLED_FOR_IAM_CONSOLE_ACCESS",
    "S3_BUCKET_PUBLIC_READ_PROHIBITED",
    "S3_BUCKET_PUBLIC_WRITE_PROHIBITED",
    "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED",
    "RESTRICTED_INCOMING_TRAFFIC",
    "INCOMING_SSH_DISABLED",
    "VPC_FLOW_LOGS_ENABLED",
    "GUARDDUTY_ENABLED_CENTRALIZED",
    "ENCRYPTED_VOLUMES",
    "RDS_STORAGE_ENCRYPTED",
)


class SecurityHubSettings(PipelineSettings):
    products: Annotated[list[str], Field(min_length=1)] = ["guardduty", "config"]
    index_prefix: str = "aws-securityhub-findings-logs"
    enable_default_standards: bool = True
    standards: list[str] = []
    config_rules: list[str] = list(DEFAULT_CONFIG_RULES)
    finding_publishing_frequency: Literal["FIFTEEN_MINUTES", "ONE_HOUR", "SIX_HOURS"] = "FIFTEEN_MINUTES"
    firehose: FirehoseSettings = FirehoseSettings()
    transform: LambdaSettings = LambdaSettings()

    @field_validator("products")
    @classmethod
    def _products(cls, value: list[str]) -> list[str]:
        for item in value:
            if not (re.fullmatch(r"[a-z0-9-]+", item) or item.startswith("arn:")):
                raise ValueError(f"a product short name (guardduty, config, inspector, ...) or ARN, got {item!r}")
        if len(set(value)) != len(value):
            raise ValueError("each product once")
        return value


#: Types that matter in an ASFF finding (everything else: keyword).
FIELDS: dict[str, dict[str, Any]] = {
    "CreatedAt": m.date(),
    "UpdatedAt": m.date(),
    "FirstObservedAt": m.date(),
    "LastObservedAt": m.date(),
    "ProcessedAt": m.date(),
    "@event.time": m.date(),
    MARKER_FIELD: m.keyword(),
    "Title": m.text_and_keyword(),
    "Description": m.text_and_keyword(),
    # 2 for one GuardDuty finding, 5.5 for another: float, not whatever came first.
    "Severity.Product": m.number("float"),
    "Severity.Normalized": m.number("integer"),
    "Confidence": m.number("integer"),
    "Criticality": m.number("integer"),
    # What the dashboard (dashboards/securityhub.ndjson) aggregates on. ``Types`` and ``Resources``
    # are lists: a finding counts once under each of its types and resources. Config findings are
    # titled with their rule's name, so ``Title.keyword`` names the rule.
    "Severity.Label": m.keyword(),
    "ProductName": m.keyword(),
    "Types": m.keyword(),
    "Compliance.Status": m.keyword(),
    "RecordState": m.keyword(),
    "Resources.Id": m.keyword(),
    "Resources.Type": m.keyword(),
}

#: ``ProductFields`` and ``UserDefinedFields`` are free maps whose keys contain "/" and ":";
#: ``Resources.Details`` has one sub-object per resource type (hundreds of types, thousands of fields:
#: the default 1000-field limit would be hit); ``Resources.Tags`` keys are the customer's tag names.
VARIABLE: tuple[str, ...] = FLAT_OBJECT_FIELDS


def _settings(ctx: Context) -> SecurityHubSettings:
    return ctx.config.pipelines.securityhub


def product_name(ctx: Context, product: str) -> str:
    """Stream and rule name of one product: ``demogo-securityhub-guardduty``."""
    return ctx.name("securityhub", product_key(product))


def product_index(ctx: Context, product: str) -> str:
    return f"{_settings(ctx).index_prefix}-{product_key(product)}"


def recorder_name(ctx: Context) -> str:
    return ctx.name("recorder")


def config_bucket_name(ctx: Context) -> str:
    return ctx.name("config", ctx.account_id)


def events_role(ctx: Context, name: str, stream_arn: Ref) -> IamRole:
    """The role EventBridge assumes to put matched events into one stream, from that one rule only."""
    rule_arn = ctx.arn("events", f"rule/{name}")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sts:AssumeRole",
                # EventBridge sets both keys when it assumes a target's role (confused-deputy guard).
                "Condition": {"StringEquals": {"aws:SourceAccount": ctx.account_id, "aws:SourceArn": rule_arn}},
            }
        ],
    }
    return IamRole(
        f"{name}{_EVENTS_ROLE_SUFFIX}",
        trust=trust,
        inline_policy=policy_document(allow(["firehose:PutRecord", "firehose:PutRecordBatch"], stream_arn)),
        description=f"logpipe: EventBridge rule {name} puts findings into Firehose stream {name}",
    )


def securityhub_event(ctx: Context, marker: str, product_arn: str) -> dict[str, Any]:
    """A ``Security Hub Findings - Imported`` event carrying one minimal ASFF finding."""
    now = datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    finding = {
        "SchemaVersion": "2018-10-08",
        "Id": marker,
        "ProductArn": product_arn,
        "GeneratorId": "logpipe-verify",
        "AwsAccountId": ctx.account_id,
        "Types": ["Software and Configuration Checks/logpipe verify"],
        "CreatedAt": stamp,
        "UpdatedAt": stamp,
        "Severity": {"Label": "INFORMATIONAL", "Normalized": 0},
        "Title": "logpipe verify test finding",
        "Description": "A test record sent by `logpipe verify`; safe to ignore.",
        "Resources": [{"Type": "Other", "Id": "logpipe-verify"}],
        "RecordState": "ACTIVE",
        "ProductFields": {"logpipe/verify": "true"},
    }
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Security Hub Findings - Imported",
        "source": "aws.securityhub",
        "account": ctx.account_id,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": ctx.region,
        "resources": [f"{product_arn}/{marker}"],
        "detail": {"findings": [finding]},
    }


class SecurityHubPipeline(Pipeline):
    name = "securityhub"
    summary = "AWS Config + GuardDuty → Security Hub → EventBridge → Firehose → OpenSearch"
    settings = SecurityHubSettings
    dashboard = "dashboards/securityhub.ndjson"

    def source_resources(self, ctx: Context) -> list[Resource]:
        settings = _settings(ctx)
        out: list[Resource] = [*self._config(ctx, settings)]

        hub = SecurityHub(enable_default_standards=settings.enable_default_standards)
        standards = [
            SecurityHubStandard(
                standard,
                standards_arn=standards_arn(standard, partition=ctx.partition, region=ctx.region),
                hub=hub,
            )
            for standard in settings.standards
        ]
        detector = GuardDutyDetector(finding_publishing_frequency=settings.finding_publishing_frequency)
        out += [hub, *standards, detector]

        log_group, role, function = shared.lambda_function(
            ctx,
            TRANSFORM_NAME,
            module="securityhub_transform",
            settings=settings.transform,
            environment={"FLAT_OBJECT_MODE": Ref(shared.domain(ctx), "flat_object_mode")},
            description="logpipe: Security Hub finding event to one ASFF document for OpenSearch",
        )
        out += [log_group, role, function]

        for product in settings.products:
            name = product_name(ctx, product)
            parts = firehose_to_opensearch(
                ctx,
                stream_name=name,
                index=product_index(ctx, product),
                settings=settings.firehose,
                transform=function,
            )
            arn = product_arn(product, partition=ctx.partition, region=ctx.region)
            rule = EventRule(
                name,
                event_pattern=findings_pattern([arn]),
                description=f"logpipe: Security Hub findings of {arn} to Firehose stream {name}",
            )
            target_role = events_role(ctx, name, Ref(parts.stream, "arn"))
            target = EventTarget(rule, TARGET_ID, arn=Ref(parts.stream, "arn"), role_arn=Ref(target_role, "arn"))
            out += [*parts.resources, target_role, rule, target]
        return out

    def _config(self, ctx: Context, settings: SecurityHubSettings) -> list[Resource]:
        recorder = ConfigRecorder(recorder_name(ctx))
        bucket_name = config_bucket_name(ctx)
        bucket = ConfigDeliveryBucket(
            bucket_name, recorder=recorder, policy_document=delivery_bucket_policy(ctx, bucket_name)
        )
        channel = ConfigDeliveryChannel(ctx.name("delivery-channel"), recorder=recorder, bucket=bucket)
        # A rule needs a recorder (AWS refuses it otherwise) and evaluates once recording runs.
        rules = [
            ConfigRule(rule_name(ctx.prefix, identifier), identifier=identifier, depends_on=(recorder, channel))
            for identifier in settings.config_rules
        ]
        return [recorder, bucket, channel, *rules]

    def checks(self, ctx: Context) -> list[str]:
        settings = _settings(ctx)
        problems: list[str] = []
        for product in settings.products:
            problem = product_arn_problem(product, region=ctx.region)
            if problem:
                problems.append(f"pipelines.securityhub.products: {problem}")
                continue
            name = product_name(ctx, product)
            longest = f"{name}{_EVENTS_ROLE_SUFFIX}"
            if len(longest) > _NAME_MAX:
                problems.append(
                    f"pipelines.securityhub.products: {product!r} makes the name {longest!r} longer than "
                    f"{_NAME_MAX} characters (the limit of Firehose stream, EventBridge rule and IAM role names); "
                    "use a shorter prefix"
                )
            if not _INDEX.match(product_index(ctx, product)):
                problems.append(
                    f"pipelines.securityhub.index_prefix: {product_index(ctx, product)!r} is not a valid "
                    'OpenSearch index name (lowercase, no spaces or \\ / * ? " < > | , # :)'
                )
        keys = [product_key(p) for p in settings.products if product_arn_problem(p, region=ctx.region) is None]
        for key in sorted({k for k in keys if keys.count(k) > 1}):
            problems.append(f"pipelines.securityhub.products: two products share the name {key!r}; list each once")
        for identifier in settings.config_rules:
            if not _MANAGED_RULE.match(identifier):
                problems.append(
                    f"pipelines.securityhub.config_rules: {identifier!r} is not an AWS Config managed rule "
                    "identifier (upper case, digits and '_', e.g. CLOUD_TRAIL_ENABLED)"
                )
        for standard in settings.standards:
            arn = standards_arn(standard, partition=ctx.partition, region=ctx.region)
            if not re.fullmatch(r"arn:[a-z-]+:securityhub:[a-z0-9-]*::(standards|ruleset)/[a-z0-9./-]+/v/[0-9.]+", arn):
                problems.append(
                    f"pipelines.securityhub.standards: {standard!r} is not a Security Hub standard "
                    "(e.g. pci-dss/v/3.2.1, or its standards ARN)"
                )
        return problems

    def index(self, ctx: Context) -> IndexSpec:
        return IndexSpec(
            pattern=f"{_settings(ctx).index_prefix}*",
            time_field="CreatedAt",
            fields=FIELDS,
            description="Security Hub ASFF findings delivered by EventBridge and Firehose",
            variable=VARIABLE,
        )

    def probes(self, ctx: Context) -> list[Probe]:
        settings = _settings(ctx)
        out = []
        for product in settings.products:
            arn = product_arn(product, partition=ctx.partition, region=ctx.region)

            def record(ctx: Context, marker: str, arn: str = arn) -> dict[str, Any]:
                return securityhub_event(ctx, marker, arn)

            probe = firehose_probe(
                ctx,
                self.name,
                stream=product_name(ctx, product),
                index_pattern=f"{product_index(ctx, product)}*",
                field=MARKER_FIELD,
                record=record,
                settings=settings.firehose,
                transform=ctx.name(TRANSFORM_NAME),
            )
            out.append(probe)
        return out

    def writer_role_names(self, ctx: Context) -> list[str]:
        return [firehose_role_name(product_name(ctx, p)) for p in _settings(ctx).products]
