"""Every log source waits for its own pipeline's index template (and role mapping), whatever else runs."""

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


def test_a_pipeline_alone_still_waits_for_its_own_template_and_role_mapping(moto: None, make_run: Any) -> None:
    """`up waf` with no `up opensearch` ever: the log source is switched on only after waf's own template
    and writer role mapping, so the first document is typed and let in."""
    run = make_run()
    declared = run.declare(run.pipelines(("waf",)))
    resources = graph.collect(declared["waf"])
    (logging,) = [r for r in resources if r.starts_data_flow]
    waits = {(d.kind, d.name) for d in logging.dependencies()}
    assert ("opensearch-index-template", "logpipe-waf") in waits
    assert ("opensearch-role-mapping", "waf") in waits
    assert {r.kind for r in resources} >= {"opensearch-role", "opensearch-index-pattern", "opensearch-access-policy"}


def _owner(declared: dict[str, list[Any]], resource: Any) -> str:
    return next(name for name, resources in declared.items() if resource in resources)
