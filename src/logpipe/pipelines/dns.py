"""dns: Route 53 Resolver query logging on a VPC → Firehose (Direct PUT) → OpenSearch."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from logpipe.config import FirehoseSettings, PipelineSettings
from logpipe.engine.context import Context
from logpipe.engine.model import Ref, Resource
from logpipe.opensearch import mappings as m
from logpipe.pipelines.base import IndexSpec, Pipeline, Probe
from logpipe.pipelines.firehose import firehose_probe, firehose_role_name, firehose_to_opensearch, index_pattern
from logpipe.resources.resolver_query_log import ResolverQueryLogAssociation, ResolverQueryLogConfig
from logpipe.resources.vpc import VpcRef

MARKER_FIELD = "query_name"


class DnsSettings(PipelineSettings):
    vpc: str = "demogo-vpc"
    stream_name: str | None = None
    index: str = "dns-log"
    firehose: FirehoseSettings = FirehoseSettings()


#: Types that matter in a Resolver query log (everything else: keyword).
FIELDS: dict[str, dict[str, Any]] = {
    "query_timestamp": m.date(),
    "srcaddr": m.ip(),
    # A string in the logs ("56067"); numeric so port ranges can be queried.
    "srcport": m.number("integer"),
    # "1.100000": a version label, not a number.
    "version": m.keyword(),
    MARKER_FIELD: m.keyword(),
    # What the dashboard (dashboards/dns.ndjson) aggregates on.
    "rcode": m.keyword(),
    "query_type": m.keyword(),
    "srcids.instance": m.keyword(),
}


def stream_name(ctx: Context) -> str:
    return ctx.config.pipelines.dns.stream_name or ctx.name("dns")


def resolver_query(ctx: Context, marker: str) -> dict[str, Any]:
    """One Route 53 Resolver query-log entry (fields and types as the samples show)."""
    return {
        "version": "1.100000",
        "account_id": ctx.account_id,
        "region": ctx.region,
        "vpc_id": "vpc-logpipeverify",
        "query_timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "query_name": marker,
        "query_type": "A",
        "query_class": "IN",
        "rcode": "NOERROR",
        "answers": [],
        "srcaddr": "10.0.0.10",
        "srcport": "53000",
        "transport": "UDP",
        "srcids": {},
    }


class DnsPipeline(Pipeline):
    name = "dns"
    summary = "Route 53 Resolver query logs of a VPC into OpenSearch (index dns-log-*)"
    settings = DnsSettings
    dashboard = "dashboards/dns.ndjson"

    def source_resources(self, ctx: Context) -> list[Resource]:
        settings = self.section(ctx)
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

    def index(self, ctx: Context) -> IndexSpec:
        settings = self.section(ctx)
        return IndexSpec(
            pattern=index_pattern(settings.index, settings.firehose),
            time_field="query_timestamp",
            fields=FIELDS,
            description="Route 53 Resolver query logs delivered by Firehose",
        )

    def probes(self, ctx: Context) -> list[Probe]:
        probe = firehose_probe(
            ctx,
            self.name,
            stream=stream_name(ctx),
            index_pattern=self.index(ctx).pattern,
            field=MARKER_FIELD,
            record=resolver_query,
            settings=self.section(ctx).firehose,
        )
        return [probe]

    def writer_role_names(self, ctx: Context) -> list[str]:
        return [firehose_role_name(stream_name(ctx))]
