"""The OpenSearch side: access policy, writer role and mappings, index templates, index patterns.

Runs after the pipelines (``all`` puts it last): it maps the IAM roles they name in
``writer_role_names`` and prepares the indices their data lands in.
"""

from __future__ import annotations

from typing import Any

from logpipe.engine.context import Context
from logpipe.engine.model import Resource
from logpipe.opensearch import health as os_health
from logpipe.opensearch import security
from logpipe.opensearch.templates import INDEX_PATTERNS, configured_patterns, index_template
from logpipe.pipelines import shared
from logpipe.pipelines.base import Pipeline
from logpipe.resources.index_pattern import IndexPattern
from logpipe.resources.index_template import IndexTemplate
from logpipe.resources.opensearch_access_policy import OpenSearchAccessPolicy
from logpipe.resources.opensearch_role import OpenSearchRole
from logpipe.resources.opensearch_role_mapping import OpenSearchRoleMapping

NAME = "opensearch"


def data_pipelines(ctx: Context, *, include_disabled: bool = False) -> list[str]:
    """The log pipelines whose indices logpipe prepares (enabled in the config, in display order)."""
    out = []
    for name in INDEX_PATTERNS:
        section = getattr(ctx.config.pipelines, name, None)
        if include_disabled or bool(getattr(section, "enabled", True)):
            out.append(name)
    return out


def writer_role_arns(ctx: Context, *, include_disabled: bool = False) -> dict[str, list[str]]:
    """pipeline -> ARNs of its IAM roles that write to OpenSearch, for every registered pipeline."""
    from logpipe import pipelines as registry

    out: dict[str, list[str]] = {}
    for name in registry.available():
        if name == NAME:
            continue
        pipeline = registry.load(name)
        if not include_disabled and not pipeline.enabled(ctx):
            continue
        out[name] = [
            f"arn:{ctx.partition}:iam::{ctx.account_id}:role/{role}" for role in pipeline.writer_role_names(ctx)
        ]
    return out


class OpenSearchPipeline(Pipeline):
    name = NAME
    summary = "access policy, role mappings, index templates and index patterns on the domain"

    def enabled(self, ctx: Context) -> bool:
        return True

    def resources(self, ctx: Context) -> list[Resource]:
        config = ctx.config.opensearch
        the_domain = shared.domain(ctx)
        access = OpenSearchAccessPolicy(the_domain)
        # Everything inside the domain waits for the access policy that lets logpipe's calls in.
        after = (access,)
        out: list[Resource] = [the_domain, access]
        pipelines = data_pipelines(ctx)
        patterns = configured_patterns(ctx.config)
        for pipeline in pipelines:
            name, body = index_template(pipeline, patterns[pipeline][0])
            out.append(IndexTemplate(name, body, the_domain, after=after))
        wanted = writer_role_arns(ctx)
        managed = writer_role_arns(ctx, include_disabled=True)
        mapping_after: tuple[Resource, ...] = after
        if config.role_mapping == security.WRITER_ROLE:
            role = OpenSearchRole(
                security.WRITER_ROLE,
                index_patterns=[patterns[p][0] for p in pipelines],
                domain=the_domain,
                after=after,
            )
            out.append(role)
            mapping_after = (*after, role)
        out.append(
            OpenSearchRoleMapping(
                config.role_mapping,
                backend_roles=[arn for arns in wanted.values() for arn in arns],
                managed=[arn for arns in managed.values() for arn in arns],
                domain=the_domain,
                after=mapping_after,
            )
        )
        for pipeline in pipelines:
            title, time_field = patterns[pipeline]
            out.append(IndexPattern(pipeline, title=title, time_field=time_field, domain=the_domain, after=after))
        return out

    def checks(self, ctx: Context) -> list[str]:
        config = ctx.config.opensearch
        problems = []
        # The sandbox's stand-in has no access policy to refuse unsigned requests at.
        if config.auth == "basic" and config.access_policy == "account" and not ctx.sandbox:
            problems.append(
                "opensearch.auth 'basic' sends unsigned requests, which access_policy 'account' refuses at the "
                "domain's edge: use access_policy 'ip' with your address in allowed_cidrs, or auth 'sigv4'"
            )
        return problems

    def health(self, ctx: Context) -> list[dict[str, Any]]:
        return os_health.opensearch_rows(ctx, data_pipelines(ctx), writer_role_arns(ctx))
