"""What the ``logpipe opensearch ...`` commands do; the Click layer only parses and prints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from logpipe import pipelines as registry
from logpipe.errors import UsageError
from logpipe.opensearch import access_policy, indices, repair
from logpipe.opensearch.mappings import flat_object_mode
from logpipe.pipelines import search, shared
from logpipe.pipelines.base import Pipeline
from logpipe.resources.opensearch_access_policy import OpenSearchAccessPolicy

if TYPE_CHECKING:
    from logpipe.engine.runner import Item
    from logpipe.session import Run


def status(run: Run) -> tuple[list[Item], list[dict[str, Any]]]:
    """The OpenSearch side's resources (every enabled pipeline's pieces), plus each pipeline's health."""
    side = registry.load(registry.OPENSEARCH)
    run.preflight([side])
    items = run.engine.status(run.declare([side]))
    rows = [row for pipeline in run.pipelines(("all",)) if pipeline.carries_data for row in pipeline.health(run.ctx)]
    return items, rows


def data_pipeline(run: Run, name: str) -> Pipeline:
    if name not in registry.REGISTRY:
        raise UsageError(f"unknown pipeline {name!r}; choose from: {', '.join(registry.REGISTRY)}")
    return registry.load(name)


def repair_candidates(run: Run, pipeline: Pipeline) -> tuple[list[repair.Candidate], list[str]]:
    """(indices of ``pipeline`` typed otherwise than its template says, indices that are fine)."""
    run.preflight([])
    spec = pipeline.index(run.ctx)
    return repair.find(run.ctx.opensearch, spec.pattern, spec.expected_types(), required=spec.time_field)


def repair_indices(run: Run, pipeline: Pipeline, candidates: list[repair.Candidate], *, reindex: bool) -> list[str]:
    """Delete or rebuild the candidates that are still mis-mapped now (read again right before)."""
    current = {c.index for c in repair_candidates(run, pipeline)[0]}
    chosen = [c for c in candidates if c.index in current]
    if not reindex:
        return repair.delete(run.ctx.opensearch, chosen)
    mappings = template_mappings(run, pipeline)
    done = []
    for candidate in chosen:
        run.progress(f"rebuilding {candidate.index} ({candidate.documents} document(s)) with the template's mapping")
        repair.reindex(run.ctx.opensearch, candidate, mappings)
        done.append(candidate.index)
    return done


def template_mappings(run: Run, pipeline: Pipeline) -> dict[str, Any]:
    """The mappings ``pipeline``'s template gives a new index on this domain's engine."""
    domain = shared.domain(run.ctx)
    run.engine.read_all({pipeline.name: [domain]})
    version = (run.ctx.outputs.get(domain.key) or {}).get("engine_version") or ""
    body = pipeline.index(run.ctx).template(flat_object_mode(version))
    return body["template"]["mappings"]


def policy_preview(run: Run) -> dict[str, Any]:
    """The domain's access policy now, and as ``up`` would leave it (no change made)."""
    side = registry.load(registry.OPENSEARCH)
    run.preflight([side])
    resource = search.access_policy(run.ctx)
    items = run.engine.plan({side.name: [resource]})
    problems = run.engine.problems(items)
    assert isinstance(resource, OpenSearchAccessPolicy)
    current = resource.current_policy(run.ctx) or access_policy.parse(None)
    after = access_policy.merged(current, resource.desired(run.ctx)["statements"])
    return {
        "mode": run.config.opensearch.access_policy,
        "current": current,
        "after": after,
        "changes": not access_policy.same_statements(current, after),
        "problems": problems,
    }


def pipeline_indices(run: Run, pipelines: list[Pipeline]) -> dict[str, int]:
    """Index -> documents, of every index the given pipelines' data lands in (none when unreachable)."""
    found: dict[str, int] = {}
    for pipeline in pipelines:
        if pipeline.carries_data:
            found.update(indices.doc_counts(run.ctx.opensearch, pipeline.index(run.ctx).pattern))
    return found


def delete_indices(run: Run, names: list[str]) -> list[str]:
    """Delete each index by its exact name (``teardown --delete-data``)."""
    for name in names:
        indices.delete_index(run.ctx.opensearch, name)
    return names
