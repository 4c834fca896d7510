"""What the ``logpipe opensearch ...`` commands do; the Click layer only parses and prints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from logpipe.opensearch import access_policy, health, purge
from logpipe.opensearch.templates import configured_patterns
from logpipe.pipelines.opensearch import NAME, OpenSearchPipeline, data_pipelines

if TYPE_CHECKING:
    from logpipe.engine.runner import Item
    from logpipe.session import Run


def status(run: Run) -> tuple[list[Item], list[dict[str, Any]]]:
    """The OpenSearch side's resources, plus per pipeline its index pattern, mapping and freshness."""
    pipeline = OpenSearchPipeline()
    run.preflight([pipeline])
    items = run.engine.status(run.declare([pipeline]))
    rows = pipeline.health(run.ctx)
    for name in data_pipelines(run.ctx):
        rows.extend(health.freshness_rows(run.ctx, name))
    order = {name: i for i, name in enumerate(data_pipelines(run.ctx))}
    rows.sort(key=lambda r: order.get(r["pipeline"], len(order)))
    return items, rows


def purge_candidates(run: Run) -> tuple[list[purge.Candidate], list[str]]:
    run.preflight([])
    return purge.find(run.ctx.opensearch, configured_patterns(run.config)["flowlog"][0])


def purge_indices(run: Run, candidates: list[purge.Candidate]) -> list[str]:
    # Read again right before deleting: only indices that are still mis-mapped now are deleted.
    current = {c.index for c in purge.find(run.ctx.opensearch, configured_patterns(run.config)["flowlog"][0])[0]}
    return purge.delete(run.ctx.opensearch, [c for c in candidates if c.index in current])


def policy_preview(run: Run) -> dict[str, Any]:
    """The domain's access policy now, and as ``up opensearch`` would leave it (no change made)."""
    from logpipe.pipelines.shared import domain
    from logpipe.resources.opensearch_access_policy import OpenSearchAccessPolicy

    pipeline = OpenSearchPipeline()
    run.preflight([pipeline])
    resource = OpenSearchAccessPolicy(domain(run.ctx))
    items = run.engine.plan({NAME: [resource]})
    problems = run.engine.problems(items)
    current = resource.current_policy(run.ctx) or access_policy.parse(None)
    after = access_policy.merged(current, resource.desired(run.ctx)["statements"])
    return {
        "mode": run.config.opensearch.access_policy,
        "current": current,
        "after": after,
        "changes": not access_policy.same_statements(current, after),
        "problems": problems,
    }
