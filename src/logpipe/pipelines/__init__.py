"""The registry of pipelines, in the order ``all`` runs and shows them (the OpenSearch side last).

Adding a log source is one line here plus its own module (see ``pipelines.base``).
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from logpipe.config import Config, PipelineSettings
from logpipe.config import load_config as _load_config
from logpipe.config import parse_config as _parse_config
from logpipe.errors import UsageError
from logpipe.pipelines.base import Pipeline

#: Log sources: name -> "module:class".
REGISTRY: dict[str, str] = {
    "cloudtrail": "logpipe.pipelines.cloudtrail:CloudTrailPipeline",
    "dns": "logpipe.pipelines.dns:DnsPipeline",
    "waf": "logpipe.pipelines.waf:WafPipeline",
    "flowlog": "logpipe.pipelines.flowlog:FlowLogPipeline",
    "securityhub": "logpipe.pipelines.securityhub:SecurityHubPipeline",
}
#: The domain-wide target; not a log source.
OPENSEARCH = "opensearch"
TARGETS: tuple[str, ...] = (*REGISTRY, OPENSEARCH)


def load(name: str) -> Pipeline:
    if name == OPENSEARCH:
        from logpipe.pipelines.opensearch import OpenSearchSide

        return OpenSearchSide([load(n) for n in REGISTRY])
    module_name, _, class_name = REGISTRY[name].partition(":")
    return getattr(import_module(module_name), class_name)()


def data_pipelines() -> list[Pipeline]:
    return [load(name) for name in REGISTRY]


def select(targets: tuple[str, ...] | list[str]) -> list[Pipeline]:
    """Resolve command-line targets (``all`` or names) to pipelines, in registry order."""
    wanted = list(targets) or ["all"]
    names: list[str] = []
    for target in wanted:
        if target == "all":
            names.extend(TARGETS)
        elif target in TARGETS:
            names.append(target)
        else:
            raise UsageError(f"unknown target {target!r}; choose from: all, {', '.join(TARGETS)}")
    return [load(n) for n in TARGETS if n in names]


def targets_help(*, data_only: bool = False) -> str:
    """The TARGET line of a command's help, from the registry."""
    names = list(REGISTRY) if data_only else list(TARGETS)
    return f"TARGET: all (default) or any of {', '.join(names)}."


# config --------------------------------------------------------------------------------
def config_sections() -> dict[str, type[PipelineSettings]]:
    """``pipelines.<name>`` section class of every log source."""
    return {pipeline.name: pipeline.settings for pipeline in data_pipelines()}


def parse_config(data: object, source: str = "config") -> Config:
    return _parse_config(data, source, sections=config_sections())


def load_config(path: Path | None, *, sandbox: bool = False) -> Config:
    return _load_config(path, sections=config_sections(), sandbox=sandbox)
