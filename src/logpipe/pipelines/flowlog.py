"""flowlog: VPC Flow Log → Firehose + transform Lambda → OpenSearch."""

from __future__ import annotations

import re
import time
from typing import Any, Literal

from pydantic import field_validator

from logpipe.config import FirehoseSettings, LambdaSettings, PipelineSettings
from logpipe.engine.context import Context
from logpipe.engine.model import Ref, Resource
from logpipe.lambdas.flowlog_transform import DEFAULT_LOG_FORMAT
from logpipe.opensearch import mappings as m
from logpipe.pipelines import shared
from logpipe.pipelines.base import IndexSpec, Pipeline, Probe
from logpipe.pipelines.firehose import firehose_probe, firehose_role_name, firehose_to_opensearch, index_pattern
from logpipe.resources.flow_log import FlowLog
from logpipe.resources.vpc import VpcRef

# The lab's function name (it types the space-separated line and converts start/end).
TRANSFORM_NAME = "vpc-flow-log-to-opensearch"
# The marker rides in a plain string field every useful format has.
MARKER_FIELD = "interface-id"


class FlowLogSettings(PipelineSettings):
    vpc: str = "demogo-vpc"
    traffic_type: Literal["ACCEPT", "REJECT", "ALL"] = "ALL"
    log_format: str | None = None
    max_aggregation_interval: Literal[60, 600] = 600
    stream_name: str | None = None
    index: str = "vpc-flowlog"
    firehose: FirehoseSettings = FirehoseSettings()
    transform: LambdaSettings = LambdaSettings()

    @field_validator("log_format")
    @classmethod
    def _format(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"(\$\{[a-z0-9-]+\}\s*)+", value.strip()):
            raise ValueError("a flow log format of ${field} tokens separated by spaces, e.g. '${version} ${srcaddr}'")
        return value


#: Types of the flow-log fields the transform writes (everything else: keyword). ``start``/``end``
#: arrive as epoch seconds from older documents: a raw ``1418530010`` read as milliseconds would
#: land in January 1970.
FIELDS: dict[str, dict[str, Any]] = {
    "start": m.date(m.ISO_OR_SECONDS),
    "end": m.date(m.ISO_OR_SECONDS),
    "version": m.number("integer"),
    "srcport": m.number("integer"),
    "dstport": m.number("integer"),
    "protocol": m.number("integer"),
    "packets": m.number(),
    "bytes": m.number(),
    "tcp-flags": m.number("integer"),
    "traffic-path": m.number("integer"),
    "encryption-status": m.number("integer"),
    **{field: m.ip() for field in ("srcaddr", "dstaddr", "pkt-srcaddr", "pkt-dstaddr")},
    MARKER_FIELD: m.keyword(),
    # ACCEPT or REJECT; the dashboard (dashboards/flowlog.ndjson) aggregates on it and the numbers above.
    "action": m.keyword(),
}

_V2_FIELDS = {
    "version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport",
    "protocol", "packets", "bytes", "start", "end", "action", "log-status",
}  # fmt: skip


def stream_name(ctx: Context) -> str:
    return ctx.config.pipelines.flowlog.stream_name or ctx.name("flowlog")


def log_format(ctx: Context) -> str:
    """The flow log's format; the transform gets the very same string, so fields line up."""
    configured = ctx.config.pipelines.flowlog.log_format
    return " ".join((configured or DEFAULT_LOG_FORMAT).split())


def flow_log_line(log_format: str, ctx: Context, marker: str) -> dict[str, str] | None:
    """One flow record in the configured format, wrapped as VPC Flow Logs sends it to Firehose.

    The marker rides in ``interface-id``; None if the format lacks it.
    """
    fields = [token.strip("${}") for token in log_format.split()]
    if MARKER_FIELD not in fields:
        return None
    now = int(time.time())
    values = {
        "version": "5" if any(f not in _V2_FIELDS for f in fields) else "2",
        "account-id": ctx.account_id,
        MARKER_FIELD: marker,
        "srcaddr": "10.0.0.10",
        "dstaddr": "10.0.0.20",
        "srcport": "44321",
        "dstport": "443",
        "protocol": "6",
        "packets": "1",
        "bytes": "60",
        "start": str(now - 60),
        "end": str(now),
        "action": "ACCEPT",
        "log-status": "OK",
    }
    return {"message": " ".join(values.get(f, "-") for f in fields)}


class FlowLogPipeline(Pipeline):
    name = "flowlog"
    summary = "VPC Flow Logs into OpenSearch (index vpc-flowlog-*)"
    settings = FlowLogSettings
    dashboard = "dashboards/flowlog.ndjson"

    def source_resources(self, ctx: Context) -> list[Resource]:
        settings = self.section(ctx)
        fmt = log_format(ctx)
        log_group, role, function = shared.lambda_function(
            ctx,
            TRANSFORM_NAME,
            module="flowlog_transform",
            settings=settings.transform,
            environment={"LOG_FORMAT": fmt},
            description="logpipe: VPC flow log line to a typed JSON document for OpenSearch",
        )
        parts = firehose_to_opensearch(
            ctx,
            stream_name=stream_name(ctx),
            index=settings.index,
            settings=settings.firehose,
            transform=function,
            vended_logs=True,
        )
        vpc = VpcRef(settings.vpc)
        flow_log = FlowLog(
            ctx.name("flowlog"),
            vpc_id=Ref(vpc, "id"),
            destination_arn=parts.stream.arn(ctx),
            traffic_type=settings.traffic_type,
            log_format=fmt,
            max_aggregation_interval=settings.max_aggregation_interval,
            depends_on=(parts.stream,),
        )
        return [log_group, role, function, *parts.resources, vpc, flow_log]

    def index(self, ctx: Context) -> IndexSpec:
        settings = self.section(ctx)
        return IndexSpec(
            pattern=index_pattern(settings.index, settings.firehose),
            time_field="start",
            fields=FIELDS,
            description="VPC flow logs delivered by Firehose, typed by logpipe",
        )

    def probes(self, ctx: Context) -> list[Probe]:
        fmt = log_format(ctx)
        if flow_log_line(fmt, ctx, "probe") is None:
            ctx.progress("flowlog: the log format has no ${interface-id} to carry a test marker; not verified")
            return []

        def record(ctx: Context, marker: str) -> dict[str, Any]:
            return flow_log_line(fmt, ctx, marker) or {}

        probe = firehose_probe(
            ctx,
            self.name,
            stream=stream_name(ctx),
            index_pattern=self.index(ctx).pattern,
            field=MARKER_FIELD,
            record=record,
            settings=self.section(ctx).firehose,
            transform=ctx.name(TRANSFORM_NAME),
        )
        return [probe]

    def writer_role_names(self, ctx: Context) -> list[str]:
        return [firehose_role_name(stream_name(ctx))]
