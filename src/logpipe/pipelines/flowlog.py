"""flowlog: VPC Flow Log → Firehose + transform Lambda → OpenSearch."""

from __future__ import annotations

from logpipe.engine.context import Context
from logpipe.engine.model import Ref, Resource
from logpipe.lambdas.flowlog_transform import DEFAULT_LOG_FORMAT
from logpipe.pipelines import shared
from logpipe.pipelines.base import Pipeline
from logpipe.pipelines.firehose import firehose_role_name, firehose_to_opensearch
from logpipe.probes import firehose_probe, flow_log_line
from logpipe.resources.flow_log import FlowLog
from logpipe.resources.vpc import VpcRef
from logpipe.verify import Probe

# The lab's function name (it types the space-separated line and converts start/end).
TRANSFORM_NAME = "vpc-flow-log-to-opensearch"


def stream_name(ctx: Context) -> str:
    return ctx.config.pipelines.flowlog.stream_name or ctx.name("flowlog")


def log_format(ctx: Context) -> str:
    """The flow log's format; the transform gets the very same string, so fields line up."""
    configured = ctx.config.pipelines.flowlog.log_format
    return " ".join((configured or DEFAULT_LOG_FORMAT).split())


class FlowLogPipeline(Pipeline):
    name = "flowlog"
    summary = "VPC Flow Logs into OpenSearch (index vpc-flowlog-*)"

    def resources(self, ctx: Context) -> list[Resource]:
        settings = ctx.config.pipelines.flowlog
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

    def probes(self, ctx: Context) -> list[Probe]:
        fmt = log_format(ctx)
        if flow_log_line(fmt, ctx, "probe") is None:
            ctx.progress("flowlog: the log format has no ${interface-id} to carry a test marker; not verified")
            return []
        index = f"{ctx.config.pipelines.flowlog.index}*"

        def record(ctx: Context, marker: str) -> dict[str, str]:
            return flow_log_line(fmt, ctx, marker) or {}

        return [firehose_probe(self.name, stream_name(ctx), index, "interface-id", record)]

    def writer_role_names(self, ctx: Context) -> list[str]:
        return [firehose_role_name(stream_name(ctx))]
