"""The registry of pipelines, in the order ``all`` runs them (OpenSearch side last)."""

from __future__ import annotations

from importlib import import_module

from logpipe.errors import UsageError
from logpipe.pipelines.base import Pipeline

# Every target the command line knows; a name maps to its implementation once it exists.
TARGETS = ("cloudtrail", "dns", "waf", "flowlog", "securityhub", "opensearch")

REGISTRY: dict[str, str] = {
    "cloudtrail": "logpipe.pipelines.cloudtrail:CloudTrailPipeline",
    "dns": "logpipe.pipelines.dns:DnsPipeline",
    "waf": "logpipe.pipelines.waf:WafPipeline",
    "flowlog": "logpipe.pipelines.flowlog:FlowLogPipeline",
    "securityhub": "logpipe.pipelines.securityhub:SecurityHubPipeline",
    "opensearch": "logpipe.pipelines.opensearch:OpenSearchPipeline",
}


def available() -> list[str]:
    return [name for name in TARGETS if name in REGISTRY]


def load(name: str) -> Pipeline:
    module_name, _, class_name = REGISTRY[name].partition(":")
    return getattr(import_module(module_name), class_name)()


def select(targets: tuple[str, ...] | list[str]) -> list[Pipeline]:
    """Resolve command-line targets (``all`` or names) to pipelines, in registry order."""
    wanted = list(targets) or ["all"]
    names: list[str] = []
    for target in wanted:
        if target == "all":
            names.extend(available())
        elif target in REGISTRY:
            names.append(target)
        elif target in TARGETS:
            raise UsageError(f"pipeline {target!r} is not available in this version of logpipe yet")
        else:
            raise UsageError(f"unknown target {target!r}; choose from: all, {', '.join(TARGETS)}")
    ordered = [n for n in TARGETS if n in names]
    return [load(n) for n in ordered]
