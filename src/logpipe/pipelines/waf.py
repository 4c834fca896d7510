"""waf: AWS WAF web ACL logging → Firehose ``aws-waf-logs-…`` + transform Lambda → OpenSearch."""

from __future__ import annotations

from logpipe.engine.context import Context
from logpipe.engine.model import Resource
from logpipe.pipelines import shared
from logpipe.pipelines.base import Pipeline
from logpipe.pipelines.firehose import firehose_role_name, firehose_to_opensearch
from logpipe.probes import firehose_probe, waf_log
from logpipe.resources.waf_logging import WafLogging, WebAclRef, parse_web_acl_arn
from logpipe.verify import Probe

# AWS WAF only logs to destinations whose name starts with this.
STREAM_PREFIX = "aws-waf-logs-"
# The lab's function name (it converts the epoch-millisecond timestamp).
TRANSFORM_NAME = "waf-log-to-opensearch"


def stream_name(ctx: Context) -> str:
    return ctx.config.pipelines.waf.stream_name or f"{STREAM_PREFIX}{ctx.prefix}"


class WafPipeline(Pipeline):
    name = "waf"
    summary = "AWS WAF web ACL logs into OpenSearch (index waf-log-*)"

    def resources(self, ctx: Context) -> list[Resource]:
        settings = ctx.config.pipelines.waf
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

    def checks(self, ctx: Context) -> list[str]:
        settings = ctx.config.pipelines.waf
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
        index = f"{ctx.config.pipelines.waf.index}*"
        return [firehose_probe(self.name, stream_name(ctx), index, "httpRequest.requestId", waf_log)]

    def writer_role_names(self, ctx: Context) -> list[str]:
        return [firehose_role_name(stream_name(ctx))]
