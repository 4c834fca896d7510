"""dns: Route 53 Resolver query logging on a VPC → Firehose (Direct PUT) → OpenSearch."""

from __future__ import annotations

from logpipe.engine.context import Context
from logpipe.engine.model import Ref, Resource
from logpipe.pipelines.base import Pipeline
from logpipe.pipelines.firehose import firehose_role_name, firehose_to_opensearch
from logpipe.probes import firehose_probe, resolver_query
from logpipe.resources.resolver_query_log import ResolverQueryLogAssociation, ResolverQueryLogConfig
from logpipe.resources.vpc import VpcRef
from logpipe.verify import Probe


def stream_name(ctx: Context) -> str:
    return ctx.config.pipelines.dns.stream_name or ctx.name("dns")


class DnsPipeline(Pipeline):
    name = "dns"
    summary = "Route 53 Resolver query logs of a VPC into OpenSearch (index dns-log-*)"

    def resources(self, ctx: Context) -> list[Resource]:
        settings = ctx.config.pipelines.dns
        parts = firehose_to_opensearch(
            ctx, stream_name=stream_name(ctx), index=settings.index, settings=settings.firehose, vended_logs=True
        )
        vpc = VpcRef(settings.vpc)
        # The stream's ARN follows from its name, so a plan shows the real destination even
        # before the stream exists; the stream is still made first.
        config = ResolverQueryLogConfig(
            ctx.name("dns-query-log"), destination_arn=parts.stream.arn(ctx), depends_on=(parts.stream,)
        )
        association = ResolverQueryLogAssociation(config, vpc_id=Ref(vpc, "id"))
        return [*parts.resources, vpc, config, association]

    def probes(self, ctx: Context) -> list[Probe]:
        index = f"{ctx.config.pipelines.dns.index}*"
        return [firehose_probe(self.name, stream_name(ctx), index, "query_name", resolver_query)]

    def writer_role_names(self, ctx: Context) -> list[str]:
        return [firehose_role_name(stream_name(ctx))]
