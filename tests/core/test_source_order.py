"""With the OpenSearch side in the same run, log sources wait for their index template."""

from __future__ import annotations

from typing import Any

from logpipe.engine import graph


def test_every_log_source_depends_on_its_pipelines_template(moto: None, make_run: Any) -> None:
    run = make_run()
    declared = run.declare(run.pipelines(("all",)))
    resources = graph.collect([r for rs in declared.values() for r in rs])
    sources = [r for r in resources if r.starts_data_flow]
    assert {r.kind for r in sources} == {
        "subscription-filter",
        "resolver-query-log-association",
        "waf-logging",
        "vpc-flow-log",
        "eventbridge-target",
    }
    for source in sources:
        templates = [d.name for d in source.dependencies() if d.kind == "opensearch-index-template"]
        assert templates == [f"logpipe-{_owner(declared, source)}"], source
    # Ordering: in a topological order each template comes before its sources.
    order = [r.key for r in graph.topological(resources)]
    for source in sources:
        template = next(d for d in source.dependencies() if d.kind == "opensearch-index-template")
        assert order.index(template.key) < order.index(source.key)


def test_without_the_opensearch_side_sources_do_not_wait(moto: None, make_run: Any) -> None:
    run = make_run()
    declared = run.declare(run.pipelines(("dns", "waf")))
    for resources in declared.values():
        for resource in resources:
            assert not [d for d in resource.dependencies() if d.kind == "opensearch-index-template"]


def _owner(declared: dict[str, list[Any]], resource: Any) -> str:
    return next(name for name, resources in declared.items() if resource in resources)
