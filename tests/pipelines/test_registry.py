"""Every registered pipeline is one complete declaration: config section, template, pattern, writers,
probe and health; and adding a source needs nothing outside its own module and one registry line."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from logpipe import pipelines as registry
from logpipe.config import PipelineSettings
from logpipe.opensearch.mappings import FLAT_OBJECT_MODES
from logpipe.pipelines.base import IndexSpec, Pipeline, Probe
from tests.conftest import LAB_CONFIG, REPO

DATE_TYPES = {"date", "date_nanos"}


def config_view() -> Any:
    """What a declaration may read without AWS: the config (and the names derived from it)."""
    config = registry.parse_config(LAB_CONFIG)
    return SimpleNamespace(
        config=config,
        prefix=config.prefix,
        name=lambda *parts: "-".join((config.prefix, *parts)),
        region="ap-northeast-2",
        account_id="123456789012",
        partition="aws",
        progress=lambda message: None,
    )


@pytest.mark.parametrize("name", list(registry.REGISTRY))
def test_each_pipeline_declares_everything_it_needs(name: str) -> None:
    pipeline = registry.load(name)
    ctx = config_view()

    assert isinstance(pipeline, Pipeline) and pipeline.carries_data
    assert issubclass(pipeline.settings, PipelineSettings) and pipeline.settings is not PipelineSettings
    spec = pipeline.index(ctx)
    assert isinstance(spec, IndexSpec)
    assert spec.pattern and spec.description
    # The time field is a date from the first document, in every engine variant.
    for mode in FLAT_OBJECT_MODES:
        body = spec.template(mode)
        assert body["index_patterns"] == [spec.pattern]
        properties = body["template"]["mappings"]["properties"]
        node: dict[str, Any] = {"properties": properties}
        for part in spec.time_field.split("."):
            node = node["properties"][part]
        assert node["type"] in DATE_TYPES, (name, mode)
        if mode == "json-string":
            assert "flat_object" not in str(body), "an engine before 2.7 refuses flat_object"
    assert pipeline.writer_role_names(ctx), "someone must be allowed to write the documents"
    probes = pipeline.probes(ctx)
    assert probes and all(isinstance(p, Probe) for p in probes)
    for probe in probes:
        # verify finds its marker by exact match: the template makes the field a keyword.
        assert spec.expected_types().get(probe.field) == "keyword", (name, probe.field)
        assert probe.errors, "verify must know where this data path records its failures"
    assert type(pipeline).health is not None and callable(pipeline.health)
    assert registry.config_sections()[name] is pipeline.settings


def test_the_opensearch_side_is_a_target_but_no_log_source() -> None:
    assert registry.TARGETS[-1] == registry.OPENSEARCH
    assert registry.OPENSEARCH not in registry.REGISTRY
    assert registry.load(registry.OPENSEARCH).carries_data is False


def test_command_help_lists_the_registered_targets() -> None:
    from click.testing import CliRunner

    from logpipe.cli import main

    for command in ("up", "plan", "status", "teardown"):
        result = CliRunner().invoke(main, [command, "--help"])
        assert result.exit_code == 0
        for name in registry.TARGETS:
            assert name in result.output, (command, name)


# layering --------------------------------------------------------------------------------
SRC = REPO / "src" / "logpipe"
#: Package -> what it must never import (layers import only downward).
FORBIDDEN = {
    "engine": ("logpipe.resources", "logpipe.pipelines", "logpipe.opensearch", "logpipe.sandbox", "logpipe.cli"),
    "opensearch": ("logpipe.engine", "logpipe.resources", "logpipe.pipelines", "logpipe.sandbox", "logpipe.session"),
    "resources": ("logpipe.pipelines", "logpipe.sandbox", "logpipe.session", "logpipe.cli", "logpipe.verify"),
    "pipelines": ("logpipe.sandbox", "logpipe.session", "logpipe.cli", "logpipe.verify", "logpipe.maintenance"),
    "lambdas": ("logpipe.",),
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", list(FORBIDDEN))
def test_layers_import_only_downward(package: str) -> None:
    bad = []
    for path in sorted((SRC / package).rglob("*.py")):
        for module in imports_of(path):
            if any(module == f or module.startswith(f if f.endswith(".") else f + ".") for f in FORBIDDEN[package]):
                bad.append(f"{path.relative_to(SRC)} imports {module}")
    assert not bad, bad


def test_product_code_outside_the_sandbox_does_not_import_it() -> None:
    """The session decides sandbox endpoints; only it (and the CLI's sandbox commands) may look there."""
    allowed = {"session.py", "cli.py"}
    bad = [
        f"{path.relative_to(SRC)} imports {module}"
        for path in sorted(SRC.rglob("*.py"))
        if "sandbox" not in path.relative_to(SRC).parts and path.name not in allowed
        for module in imports_of(path)
        if module.startswith("logpipe.sandbox")
    ]
    assert not bad, bad


def test_opensearch_py_is_the_data_plane_client() -> None:
    """The declared dependency does the HTTP: no hand-written requests session in the data plane."""
    client = (SRC / "opensearch" / "client.py").read_text()
    assert "from opensearchpy import" in client
    for path in (SRC / "opensearch").rglob("*.py"):
        assert "requests.Session" not in path.read_text(), path
