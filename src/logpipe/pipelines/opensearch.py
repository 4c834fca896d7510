"""The OpenSearch side as a target: the domain-wide parts, and every pipeline's pieces shown together.

The domain access policy mode is domain-wide. Index templates, writer roles and mappings, index
patterns and dashboards belong to the pipelines (each declares its own, see ``pipelines.search``); this target
declares them too, so ``up opensearch`` prepares the domain for every enabled pipeline and
``status opensearch`` lists them side by side. The engine merges declarations by key, so each is
made once however many targets declare it.
"""

from __future__ import annotations

from typing import ClassVar

from logpipe.engine.context import Context
from logpipe.engine.model import Resource
from logpipe.pipelines import search, shared
from logpipe.pipelines.base import Pipeline
from logpipe.pipelines.search import Row


class OpenSearchSide(Pipeline):
    name = "opensearch"
    summary = "access policy, role mappings, index templates and index patterns on the domain"
    carries_data: ClassVar[bool] = False

    def __init__(self, data_pipelines: list[Pipeline] | None = None) -> None:
        self.data_pipelines = data_pipelines or []

    def enabled(self, ctx: Context) -> bool:
        return True

    def resources(self, ctx: Context) -> list[Resource]:
        out: list[Resource] = [shared.domain(ctx), search.access_policy(ctx)]
        for pipeline in self.data_pipelines:
            if pipeline.enabled(ctx):
                pieces = search.pieces(ctx, pipeline)
                out += [*pieces.resources, *pieces.views]
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

    def health(self, ctx: Context) -> list[Row]:
        return []
