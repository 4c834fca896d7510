"""securityhub: AWS Config + GuardDuty → Security Hub → EventBridge → Firehose (+ transform) → OpenSearch.

The lab's "Security Hub" section. The account-wide services (Config recorder, Security Hub,
GuardDuty) are ``shared``: created when the region has none, used as they are otherwise,
never turned off unless logpipe turned them on. Each configured product (``guardduty``,
``config``, any other Security Hub product) gets its own EventBridge rule, Firehose stream and
index, so products never mix; one more route, ``other`` (``catch_all``), takes every finding no
product rule takes, so nothing Security Hub imports is dropped (see ``securityhub_patterns``).
Each rule's target is its stream, reached through a role that may put records into that stream
only.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
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
from logpipe.securityhub_patterns import (
    findings_pattern,
    matches,
    other_findings_pattern,
    product_arn,
    product_arn_problem,
    product_arn_wildcard,
    product_key,
)

TRANSFORM_NAME = "securityhub-transform"
TARGET_ID = "firehose"
_NAME_MAX = 64  # Firehose stream, EventBridge rule and IAM role names
_EVENTS_ROLE_SUFFIX = "-events"
_INDEX = re.compile(r'^[a-z0-9][^A-Z\s\\/*?"<>|,#:]{0,200}$')
_MANAGED_RULE = re.compile(r"^[A-Z0-9_]{1,128}$")
MARKER_FIELD = "Id"
#: The catch-all route's name in resource and index names: ``demogo-securityhub-other``.
OTHER = "other"
#: Products the catch-all's verify probe may say its finding comes from: the first that no product
#: rule takes (then a custom product of the account's own).
_OTHER_PROBE_PRODUCTS = ("securityhub", "inspector", "macie", "access-analyzer")
CATCH_ALL_OFF_WARNING = (
    "warning: pipelines.securityhub.catch_all is false: findings of every product not listed in "
    "pipelines.securityhub.products (Security Hub's own control checks, Inspector, Macie, IAM Access "
    "Analyzer, partner and custom products) match no EventBridge rule and never reach OpenSearch"
)

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
    catch_all: bool = True
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


#: Every timestamp of the ASFF syntax outside ``Resources[].Details``, as dotted template paths
#: (arrays of objects need no marker: ``ThreatIntelIndicators`` and ``Vulnerabilities`` are lists).
#: Source: AWS Security Hub User Guide, "AWS Security Finding Format (ASFF)" syntax and its object
#: pages, and the API's ``AwsSecurityFinding`` type (botocore's securityhub model), which mark each of
#: them "for the validation and formatting of timestamp fields, see Timestamps": ISO 8601 strings
#: that Security Hub validates on import, in forms that all parse as ``strict_date_optional_time``
#: (offsets with or without a colon, up to nine fraction digits), so a ``date`` refuses none of them.
#: Left out on purpose:
#: - ``Resources[].Details.*`` times (about 60: ``AwsEc2Instance.LaunchedAt``, ``AwsIamAccessKey.CreatedAt``,
#:   ``AwsS3Bucket.CreatedAt``, ``AwsCertificateManagerCertificate.NotAfter``, ``AwsRdsDbInstance.InstanceCreateTime``,
#:   ``Container.LaunchedAt``, ...) stay inside the ``Details`` flat_object (see VARIABLE): one sub-object per
#:   resource type would exceed the index's field limit. A flat_object indexes its leaves as strings: exact
#:   and prefix queries ("2024-05-") work on them, date ranges, date math and time zones do not.
#: - ``Detection.Sequence.Signals[].CreatedAt/UpdatedAt/FirstSeenAt/LastSeenAt`` and
#:   ``Detection.Sequence.Actors[].Session.CreatedTime`` (GuardDuty attack sequences) are JSON numbers
#:   whose unit the reference does not give ("Type: Long"); as numbers they already range-filter, and a
#:   ``date`` guess of milliseconds would misplace seconds by a factor of 1000.
ASFF_TIMES: tuple[str, ...] = (
    "CreatedAt",
    "UpdatedAt",
    "FirstObservedAt",
    "LastObservedAt",
    "ProcessedAt",
    "Action.AwsApiCallAction.FirstSeen",
    "Action.AwsApiCallAction.LastSeen",
    "Note.UpdatedAt",
    "PatchSummary.OperationStartTime",
    "PatchSummary.OperationEndTime",
    "Process.LaunchedAt",
    "Process.TerminatedAt",
    "ThreatIntelIndicators.LastObservedAt",
    "Vulnerabilities.LastKnownExploitAt",
    "Vulnerabilities.Vendor.VendorCreatedAt",
    "Vulnerabilities.Vendor.VendorUpdatedAt",
)

#: Types that matter in an ASFF finding (everything else: keyword).
FIELDS: dict[str, dict[str, Any]] = {
    **{path: m.date() for path in ASFF_TIMES},
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


def route_name(ctx: Context, key: str) -> str:
    """Rule, stream and role base name of one route: ``demogo-securityhub-guardduty``, ``...-other``."""
    return ctx.name("securityhub", key)


def route_index(ctx: Context, key: str) -> str:
    return f"{_settings(ctx).index_prefix}-{key}"


def product_name(ctx: Context, product: str) -> str:
    """Stream and rule name of one product: ``demogo-securityhub-guardduty``."""
    return route_name(ctx, product_key(product))


def product_index(ctx: Context, product: str) -> str:
    return route_index(ctx, product_key(product))


@dataclass(frozen=True)
class Route:
    """One EventBridge rule to its own Firehose stream and index."""

    key: str  # in names: guardduty, config, crowdstrike-crowdstrike-falcon, other
    pattern: dict[str, Any]
    what: str  # whose findings, for descriptions
    product: str | None = None  # the configured product; None for the catch-all


def routes(ctx: Context) -> list[Route]:
    """Each configured product's route, then the catch-all's (unless ``catch_all`` is off).

    The catch-all excludes exactly the product rules' wildcards, so every finding has one route.
    """
    settings = _settings(ctx)
    wildcards = [product_arn_wildcard(p, partition=ctx.partition) for p in settings.products]
    out = [
        Route(product_key(p), findings_pattern([w]), f"{w} (any region)", p)
        for p, w in zip(settings.products, wildcards, strict=True)
    ]
    if settings.catch_all:
        out.append(Route(OTHER, other_findings_pattern(wildcards), "every product no other rule takes"))
    return out


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

        for route in routes(ctx):
            out += self._route(ctx, route, settings, function)
        return out

    def _route(self, ctx: Context, route: Route, settings: SecurityHubSettings, function: Resource) -> list[Resource]:
        name = route_name(ctx, route.key)
        parts = firehose_to_opensearch(
            ctx,
            stream_name=name,
            index=route_index(ctx, route.key),
            settings=settings.firehose,
            transform=function,
        )
        rule = EventRule(
            name,
            event_pattern=route.pattern,
            description=f"logpipe: Security Hub findings of {route.what} to Firehose stream {name}",
        )
        target_role = events_role(ctx, name, Ref(parts.stream, "arn"))
        target = EventTarget(rule, TARGET_ID, arn=Ref(parts.stream, "arn"), role_arn=Ref(target_role, "arn"))
        return [*parts.resources, target_role, rule, target]

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
        if not settings.catch_all:
            # Not a problem (the user asked for it), but nothing else would say findings are lost.
            ctx.progress(CATCH_ALL_OFF_WARNING)
        problems = _product_problems(ctx, settings)
        if not problems:
            problems = [p for route in routes(ctx) for p in _name_problems(ctx, route)]
        return [*problems, *_config_rule_problems(settings), *_standard_problems(ctx, settings)]

    def index(self, ctx: Context) -> IndexSpec:
        return IndexSpec(
            pattern=f"{_settings(ctx).index_prefix}*",
            time_field="CreatedAt",
            fields=FIELDS,
            description="Security Hub ASFF findings delivered by EventBridge and Firehose",
            variable=VARIABLE,
        )

    def probes(self, ctx: Context) -> list[Probe]:
        """One test finding per route, put straight into its stream (EventBridge is not on the way)."""
        settings = _settings(ctx)
        out = []
        for route in routes(ctx):
            arn = _probe_product_arn(ctx, route)

            def record(ctx: Context, marker: str, arn: str = arn) -> dict[str, Any]:
                return securityhub_event(ctx, marker, arn)

            probe = firehose_probe(
                ctx,
                self.name,
                stream=route_name(ctx, route.key),
                index_pattern=f"{route_index(ctx, route.key)}*",
                field=MARKER_FIELD,
                record=record,
                settings=settings.firehose,
                transform=ctx.name(TRANSFORM_NAME),
            )
            out.append(probe)
        return out

    def writer_role_names(self, ctx: Context) -> list[str]:
        return [firehose_role_name(route_name(ctx, route.key)) for route in routes(ctx)]


def _product_problems(ctx: Context, settings: SecurityHubSettings) -> list[str]:
    problems = [
        f"pipelines.securityhub.products: {problem}"
        for problem in (product_arn_problem(p, partition=ctx.partition) for p in settings.products)
        if problem
    ]
    if problems:
        return problems
    keys = [product_key(p) for p in settings.products]
    for key in sorted({k for k in keys if keys.count(k) > 1}):
        problems.append(f"pipelines.securityhub.products: two products share the name {key!r}; list each once")
    if settings.catch_all and OTHER in keys:
        problems.append(
            f"pipelines.securityhub.products: the name {OTHER!r} belongs to the catch-all route (rule, stream "
            f"and index {route_index(ctx, OTHER)} for every product not listed); a product cannot take it "
            "while pipelines.securityhub.catch_all is on"
        )
    return problems


def _name_problems(ctx: Context, route: Route) -> list[str]:
    problems = []
    who = repr(route.product) if route.product else "the catch-all route"
    longest = f"{route_name(ctx, route.key)}{_EVENTS_ROLE_SUFFIX}"
    if len(longest) > _NAME_MAX:
        problems.append(
            f"pipelines.securityhub.products: {who} makes the name {longest!r} longer than "
            f"{_NAME_MAX} characters (the limit of Firehose stream, EventBridge rule and IAM role names); "
            "use a shorter prefix"
        )
    index = route_index(ctx, route.key)
    if not _INDEX.match(index):
        problems.append(
            f"pipelines.securityhub.index_prefix: {index!r} is not a valid "
            'OpenSearch index name (lowercase, no spaces or \\ / * ? " < > | , # :)'
        )
    return problems


def _config_rule_problems(settings: SecurityHubSettings) -> list[str]:
    return [
        f"pipelines.securityhub.config_rules: {identifier!r} is not an AWS Config managed rule "
        "identifier (upper case, digits and '_', e.g. CLOUD_TRAIL_ENABLED)"
        for identifier in settings.config_rules
        if not _MANAGED_RULE.match(identifier)
    ]


def _standard_problems(ctx: Context, settings: SecurityHubSettings) -> list[str]:
    problems = []
    for standard in settings.standards:
        arn = standards_arn(standard, partition=ctx.partition, region=ctx.region)
        if not re.fullmatch(r"arn:[a-z-]+:securityhub:[a-z0-9-]*::(standards|ruleset)/[a-z0-9./-]+/v/[0-9.]+", arn):
            problems.append(
                f"pipelines.securityhub.standards: {standard!r} is not a Security Hub standard "
                "(e.g. pci-dss/v/3.2.1, or its standards ARN)"
            )
    return problems


def _probe_product_arn(ctx: Context, route: Route) -> str:
    """The ProductArn of a route's test finding: its product, or for the catch-all one that no
    product rule takes, so the probe is a finding that rule really routes."""
    if route.product is not None:
        return product_arn(route.product, partition=ctx.partition, region=ctx.region)
    own = f"arn:{ctx.partition}:securityhub:{ctx.region}:{ctx.account_id}:product/{ctx.account_id}"
    candidates = [
        *(product_arn(p, partition=ctx.partition, region=ctx.region) for p in _OTHER_PROBE_PRODUCTS),
        f"{own}/default",
        f"{own}/logpipe-verify",
    ]
    taken = (arn for arn in candidates if matches(route.pattern, securityhub_event(ctx, "probe", arn)))
    return next(taken, candidates[-1])
