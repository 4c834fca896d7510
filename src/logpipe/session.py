"""Turn global command-line options into one run: config, AWS clients, context, engine, pipelines."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from logpipe import orphans
from logpipe import pipelines as registry
from logpipe.aws import Aws, CallCounter
from logpipe.config import Config, load_config, resolve_config_path
from logpipe.engine import graph
from logpipe.engine.context import Context
from logpipe.engine.model import Resource
from logpipe.engine.runner import Engine, Item, Reporter
from logpipe.errors import PreflightError, UsageError
from logpipe.orphans import Orphan
from logpipe.pipelines.base import Pipeline

SANDBOX_DEFAULT_REGION = "ap-northeast-2"


@dataclass
class Options:
    config: str | None = None
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    sandbox: bool = False
    output: str = "table"
    verbose: int = 0


def _stderr_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Run:
    """Everything one command needs. The config is validated before any AWS client exists."""

    def __init__(
        self,
        options: Options,
        *,
        reporter: Reporter | None = None,
        progress: Callable[[str], None] = _stderr_progress,
    ) -> None:
        self.options = options
        self.config: Config = load_config(resolve_config_path(options.config), sandbox=options.sandbox)
        self.counter = CallCounter()
        self.progress = progress
        region = options.region or self.config.region
        endpoint_url = options.endpoint_url
        opensearch_url = self.config.opensearch.endpoint_url
        profile = options.profile or self.config.profile
        if options.sandbox:
            from logpipe.sandbox import control

            region = region or SANDBOX_DEFAULT_REGION
            info = control.ensure_running(region=region, seed=sandbox_seed(self.config), progress=progress)
            endpoint_url = endpoint_url or info["aws_endpoint_url"]
            opensearch_url = opensearch_url or info["opensearch_url"]
            control.use_sandbox_credentials()
            profile = None
        self.aws = Aws(profile=profile, region=region, endpoint_url=endpoint_url, counter=self.counter)
        self.ctx = Context(
            self.config,
            self.aws,
            opensearch_factory=_opensearch_factory,
            opensearch_url=opensearch_url,
            sandbox=options.sandbox,
            progress=progress,
        )
        self.engine = Engine(self.ctx, reporter or (lambda event, item: None))

    # pipelines ------------------------------------------------------------------
    def pipelines(self, targets: tuple[str, ...], *, for_teardown: bool = False) -> list[Pipeline]:
        chosen = registry.select(targets)
        explicit = set(targets) - {"all"}
        out = []
        for pipeline in chosen:
            if pipeline.enabled(self.ctx) or for_teardown:
                out.append(pipeline)
            elif pipeline.name in explicit:
                raise UsageError(
                    f"pipeline {pipeline.name} is disabled in the config (pipelines.{pipeline.name}.enabled: false)"
                )
        return out

    def declare(self, pipelines: list[Pipeline]) -> dict[str, list[Resource]]:
        declared = {p.name: p.resources(self.ctx) for p in pipelines}
        _sources_wait_for_templates(declared)
        return declared

    def preflight(self, pipelines: list[Pipeline]) -> None:
        """Checks that need no resource reads: credentials and each pipeline's own rules, all at once."""
        problems: list[str] = []
        try:
            self.aws.identity()
        except UsageError as exc:
            problems.append(str(exc))
        except Exception as exc:  # the credential check must report, not crash
            problems.append(str(exc))
        if not problems:
            for pipeline in pipelines:
                problems.extend(f"{pipeline.name}: {p}" for p in pipeline.checks(self.ctx))
        if problems:
            raise PreflightError(problems)

    def leftovers(self, items: list[Item]) -> list[Orphan]:
        """Resources tagged as this stack's that no pipeline declares (see logpipe.orphans).

        ``items`` are what this run already read; pipelines it did not read (disabled ones)
        are read too, so their resources are not taken for leftovers.
        """
        read = {p for item in items for p in item.pipelines}
        others = [registry.load(n) for n in registry.available() if n not in read]
        if others:
            self.engine.read_all(self.declare(others))
        return orphans.find(self.ctx, self.ctx.output_strings())

    def others_keys(self, chosen: list[Pipeline]) -> set[str]:
        """Resource keys that pipelines outside ``chosen`` also declare: teardown keeps them."""
        names = {p.name for p in chosen}
        others = [registry.load(n) for n in registry.available() if n not in names]
        keys: set[str] = set()
        for pipeline in others:
            keys.update(r.key for r in graph.collect(pipeline.resources(self.ctx)))
        return keys


def _sources_wait_for_templates(declared: dict[str, list[Resource]]) -> None:
    """When the OpenSearch side is built in the same run, a log source is turned on only after
    its pipeline's index template exists: documents that arrive first would fix the index's
    mapping without it (the mis-typed FlowLog indices the lab had to purge)."""
    from logpipe.opensearch.templates import TEMPLATE_NAMES

    templates = {r.name: r for r in declared.get("opensearch", []) if r.kind == "opensearch-index-template"}
    for pipeline, resources in declared.items():
        template = templates.get(TEMPLATE_NAMES.get(pipeline, ""))
        if template is None:
            continue
        for resource in resources:
            if resource.starts_data_flow:
                resource.add_dependency(template)


def sandbox_seed(config: Config) -> dict[str, Any]:
    """What a new sandbox must already have for this config: the lab's names plus the config's."""
    from logpipe.sandbox.emulator import LAB_SEED

    pipes = config.pipelines
    vpcs = list(dict.fromkeys([*LAB_SEED["vpcs"], pipes.dns.vpc, pipes.flowlog.vpc]))
    vpcs = [v for v in vpcs if not v.startswith("vpc-")]
    acls = list(LAB_SEED["web_acls"])
    if not pipes.waf.web_acl.startswith("arn:") and pipes.waf.web_acl != acls[0]["name"]:
        acls.append({"name": pipes.waf.web_acl, "scope": pipes.waf.scope})
    return {"domain": config.opensearch.domain, "vpcs": vpcs, "web_acls": acls}


def _opensearch_factory(ctx: Context) -> Any:
    from logpipe.opensearch.client import client_for

    return client_for(ctx)
