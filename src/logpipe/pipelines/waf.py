"""waf: AWS WAF web ACL logging → Firehose ``aws-waf-logs-…`` + transform Lambda → OpenSearch."""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import field_validator

from logpipe.config import FirehoseSettings, LambdaSettings, PipelineSettings
from logpipe.engine.context import Context
from logpipe.engine.model import Resource
from logpipe.opensearch import mappings as m
from logpipe.pipelines import shared
from logpipe.pipelines.base import IndexSpec, Pipeline, Probe
from logpipe.pipelines.firehose import firehose_probe, firehose_role_name, firehose_to_opensearch, index_pattern
from logpipe.resources.waf_logging import WafLogging, WebAclRef, parse_web_acl_arn

# AWS WAF only logs to destinations whose name starts with this.
STREAM_PREFIX = "aws-waf-logs-"
# The lab's function name (it converts the epoch-millisecond timestamp).
TRANSFORM_NAME = "waf-log-to-opensearch"
MARKER_FIELD = "httpRequest.requestId"


class WafSettings(PipelineSettings):
    web_acl: str = "demogo-webacl"
    scope: Literal["REGIONAL", "CLOUDFRONT"] = "REGIONAL"
    stream_name: str | None = None
    index: str = "waf-log"
    firehose: FirehoseSettings = FirehoseSettings()
    transform: LambdaSettings = LambdaSettings()

    @field_validator("stream_name")
    @classmethod
    def _waf_prefix(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(STREAM_PREFIX):
            raise ValueError(f"a Firehose stream name starting with '{STREAM_PREFIX}' (AWS WAF refuses any other)")
        return value


#: Types that matter in a WAF log (everything else: keyword). The transform makes ``timestamp``
#: (epoch milliseconds) ISO 8601; the raw number would still parse as epoch_millis.
FIELDS: dict[str, dict[str, Any]] = {
    "timestamp": m.date(),
    "httpRequest.clientIp": m.ip(),
    MARKER_FIELD: m.keyword(),
    "formatVersion": m.number("integer"),
    "responseCodeSent": m.number("integer"),
    # Epoch seconds beside the millisecond timestamp; kept a number, not a second time field.
    "captchaResponse.solveTimestamp": m.number(),
    "captchaResponse.responseCode": m.number("integer"),
    "challengeResponse.solveTimestamp": m.number(),
    "challengeResponse.responseCode": m.number("integer"),
    # What the dashboard (dashboards/waf.ndjson) aggregates on. ``action`` is ALLOW, BLOCK, CAPTCHA,
    # CHALLENGE or COUNT; ``ruleGroupList`` is a list, so ``ruleGroupList.ruleGroupId`` holds every
    # rule group the request went through.
    "action": m.keyword(),
    "terminatingRuleId": m.keyword(),
    "terminatingRuleType": m.keyword(),
    "httpRequest.country": m.keyword(),
    "httpRequest.uri": m.keyword(),
    "httpRequest.httpMethod": m.keyword(),
    "ruleGroupList.ruleGroupId": m.keyword(),
}


def stream_name(ctx: Context) -> str:
    return ctx.config.pipelines.waf.stream_name or f"{STREAM_PREFIX}{ctx.prefix}"


def waf_log(ctx: Context, marker: str) -> dict[str, Any]:
    """One AWS WAF log record; ``timestamp`` is epoch milliseconds, as WAF writes it."""
    return {
        "timestamp": int(time.time() * 1000),
        "formatVersion": 1,
        "webaclId": f"arn:{ctx.partition}:wafv2:{ctx.region}:{ctx.account_id}:regional/webacl/logpipe-verify/0",
        "terminatingRuleId": "Default_Action",
        "terminatingRuleType": "REGULAR",
        "action": "ALLOW",
        "httpSourceName": "ALB",
        "httpSourceId": "logpipe-verify",
        "ruleGroupList": [],
        "rateBasedRuleList": [],
        "nonTerminatingMatchingRules": [],
        "httpRequest": {
            "clientIp": "198.51.100.10",
            "country": "KR",
            "headers": [{"name": "Host", "value": "logpipe.invalid"}],
            "uri": "/logpipe-verify",
            "args": "",
            "httpVersion": "HTTP/1.1",
            "httpMethod": "GET",
            MARKER_FIELD.split(".")[1]: marker,
        },
    }


class WafPipeline(Pipeline):
    name = "waf"
    summary = "AWS WAF web ACL logs into OpenSearch (index waf-log-*)"
    settings = WafSettings
    dashboard = "dashboards/waf.ndjson"

    def source_resources(self, ctx: Context) -> list[Resource]:
        settings = self.section(ctx)
        log_group, role, function = shared.lambda_function(
            ctx,
            TRANSFORM_NAME,
            module="waf_transform",
            settings=settings.transform,
            description="logpipe: WAF log timestamp (epoch ms) to ISO 8601 for OpenSearch",
        )
        parts = firehose_to_opensearch(
            ctx, stream_name=stream_name(ctx), index=settings.index, settings=settings.firehose, transform=function
        )
        web_acl = WebAclRef(settings.web_acl, scope=settings.scope)
        logging = WafLogging(web_acl, stream=parts.stream)
        return [log_group, role, function, *parts.resources, web_acl, logging]

    def index(self, ctx: Context) -> IndexSpec:
        settings = self.section(ctx)
        return IndexSpec(
            pattern=index_pattern(settings.index, settings.firehose),
            time_field="timestamp",
            fields=FIELDS,
            description="AWS WAF logs delivered by Firehose (timestamp made ISO 8601)",
        )

    def checks(self, ctx: Context) -> list[str]:
        settings = self.section(ctx)
        problems = []
        name = stream_name(ctx)
        if not name.startswith(STREAM_PREFIX):
            problems.append(f"Firehose stream {name!r}: AWS WAF logs only to streams named {STREAM_PREFIX}…")
        parsed = parse_web_acl_arn(settings.web_acl)
        if settings.web_acl.startswith("arn:") and parsed is None:
            problems.append(f"pipelines.waf.web_acl {settings.web_acl!r} is not a WAFv2 web ACL ARN")
        scope = parsed["scope"] if parsed else settings.scope
        if scope == "CLOUDFRONT" and ctx.region != "us-east-1":
            problems.append(
                "a CLOUDFRONT web ACL logs only to a Firehose stream in us-east-1; run with --region us-east-1"
            )
        if parsed and parsed["scope"] == "REGIONAL" and parsed["region"] != ctx.region:
            problems.append(
                f"web ACL {settings.web_acl} is in {parsed['region']}, but this run is in {ctx.region}: "
                "the Firehose stream must be in the web ACL's region"
            )
        return problems

    def probes(self, ctx: Context) -> list[Probe]:
        settings = self.section(ctx)
        probe = firehose_probe(
            ctx,
            self.name,
            stream=stream_name(ctx),
            index_pattern=self.index(ctx).pattern,
            field=MARKER_FIELD,
            record=waf_log,
            settings=settings.firehose,
            transform=ctx.name(TRANSFORM_NAME),
        )
        return [probe]

    def writer_role_names(self, ctx: Context) -> list[str]:
        return [firehose_role_name(stream_name(ctx))]
