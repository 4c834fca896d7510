"""A pipeline's OpenSearch pieces and health, derived from its declaration.

For pipeline P: P's index template (one body per flat_object mode; the domain's engine picks),
P's scoped writer role, P's entries in the role mapping, P's Dashboards index pattern and, after
the pattern its visualizations read, P's dashboard; all after the domain access policy that lets
logpipe's calls in. ``health_rows`` reports what a resource table cannot: indices typed
otherwise than the template says, and data freshness.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from logpipe.engine.context import Context
from logpipe.engine.model import Resource
from logpipe.errors import LogpipeError
from logpipe.opensearch import indices, security
from logpipe.opensearch.mappings import FLAT_OBJECT_MODES
from logpipe.pipelines import dashboard_file, shared
from logpipe.resources.dashboard import Dashboard
from logpipe.resources.index_pattern import IndexPattern, pattern_id
from logpipe.resources.index_template import IndexTemplate
from logpipe.resources.opensearch_access_policy import OpenSearchAccessPolicy
from logpipe.resources.opensearch_role import OpenSearchRole
from logpipe.resources.opensearch_role_mapping import OpenSearchRoleMapping

if TYPE_CHECKING:
    from logpipe.pipelines.base import Pipeline

Row = dict[str, Any]


@dataclass
class Pieces:
    resources: list[Resource]
    # What a log source of the pipeline waits for: documents typed (template) and let in (mapping).
    gates: list[Resource]
    # What people look at (the dashboard): made and checked with the rest, but no data waits for it,
    # so `verify` does not either.
    views: list[Resource] = field(default_factory=list)


def template_name(pipeline: str) -> str:
    return f"logpipe-{pipeline}"


def writer_role_arns(ctx: Context, pipeline: Pipeline) -> list[str]:
    return [f"arn:{ctx.partition}:iam::{ctx.account_id}:role/{name}" for name in pipeline.writer_role_names(ctx)]


def access_policy(ctx: Context) -> OpenSearchAccessPolicy:
    """The domain access policy statements of the configured mode. Every pipeline's writers need
    exactly these (signed requests from this account), so all declare the same one."""
    return OpenSearchAccessPolicy(shared.domain(ctx))


def pieces(ctx: Context, pipeline: Pipeline) -> Pieces:
    domain = shared.domain(ctx)
    policy = access_policy(ctx)
    after = (policy,)
    spec = pipeline.index(ctx)
    bodies = {mode: spec.template(mode) for mode in FLAT_OBJECT_MODES}
    template = IndexTemplate(template_name(pipeline.name), bodies, domain, after=after)
    out: list[Resource] = [domain, policy, template]
    chosen = ctx.config.opensearch.role_mapping
    own_role = security.writer_role_name(ctx.prefix, pipeline.name)
    mapping_after: tuple[Resource, ...] = after
    if chosen == security.SCOPED_WRITER:
        role = OpenSearchRole(own_role, index_patterns=[spec.pattern], domain=domain, after=after)
        out.append(role)
        mapping_after = (*after, role)
        target = own_role
    else:
        target = security.ALL_ACCESS
    mapping = OpenSearchRoleMapping(
        pipeline.name,
        role=target,
        others=(own_role, security.ALL_ACCESS, security.LEGACY_SHARED_WRITER),
        backend_roles=writer_role_arns(ctx, pipeline),
        domain=domain,
        after=mapping_after,
    )
    pattern = IndexPattern(pipeline.name, title=spec.pattern, time_field=spec.time_field, domain=domain, after=after)
    out += [mapping, pattern]
    views = dashboards(ctx, pipeline, domain=domain, after=(*after, pattern))
    for resource in [*out[2:], *views]:
        resource.pipeline = pipeline.name
    return Pieces(resources=out, gates=[template, mapping], views=views)


def dashboards(ctx: Context, pipeline: Pipeline, *, domain: Resource, after: tuple[Resource, ...]) -> list[Resource]:
    """P's dashboard from its definition file, checked against P's template (never raises: a broken
    file becomes a dashboard that fails at `up` with the file and object named)."""
    file = pipeline.dashboard_file()
    if file is None:
        return []
    spec = pipeline.index(ctx)
    definition = dashboard_file.load(
        file,
        pipeline=pipeline.name,
        pattern_id=pattern_id(pipeline.name),
        fields=dashboard_file.template_fields(spec.fields),
    )
    board = Dashboard(
        pipeline.name,
        objects=definition.objects,
        problems=definition.problems,
        source=definition.path,
        domain=domain,
        after=after,
    )
    return [board]


# health ------------------------------------------------------------------------------
def row(pipeline: str, check: str, value: str, detail: str, ok: bool) -> Row:
    return {"pipeline": pipeline, "check": check, "value": value, "detail": detail, "ok": ok}


def guarded(pipeline: str, check: str, build: Callable[[], list[Row]]) -> list[Row]:
    """A check's rows, or one row saying why it could not be made: status reports, never crashes."""
    try:
        return build()
    except LogpipeError as exc:
        return [row(pipeline, check, "unknown", str(exc), False)]
    except Exception as exc:
        return [row(pipeline, check, "unknown", f"{type(exc).__name__}: {exc}", False)]


def repair_command(pipeline: str) -> str:
    return f"logpipe opensearch repair {pipeline} --reindex (keeps the data) or --delete"


VARIANTS = {
    "native": "flat_object, nulls as they come (OpenSearch 2.17 and later)",
    "no-nulls": "flat_object, the handler drops nulls the engine refuses (OpenSearch 2.7 to 2.16)",
    "json-string": "no flat_object on this engine: each object as JSON text plus <field>_leaves keywords",
}


def variant_row(ctx: Context, pipeline: str) -> Row:
    """How this domain's engine stores the pipeline's variable-shape objects (see FLAT_OBJECT_MODES)."""
    domain = ctx.outputs.get(shared.domain(ctx).key) or {}
    version = domain.get("engine_version") or "engine unknown"
    mode = domain.get("flat_object_mode")
    if not mode:
        return row(pipeline, "variable fields", "unsupported", f"{version}: logpipe cannot type these fields", False)
    return row(pipeline, "variable fields", mode, f"{version}: {VARIANTS[mode]}", True)


def health_rows(ctx: Context, pipeline: Pipeline) -> list[Row]:
    """Mis-mapped indices (index, field, type) and documents in the last 24 h, for one pipeline."""
    name = pipeline.name
    spec = pipeline.index(ctx)

    def build() -> list[Row]:
        expected = spec.expected_types()
        fields = sorted({spec.time_field, *expected})
        types = indices.field_types(ctx.opensearch, spec.pattern, fields)
        if not types:
            return [
                row(name, "freshness", "no index", f"no index matches {spec.pattern}: no data has arrived yet", False)
            ]
        out = []
        by_index: dict[str, list[str]] = {}
        for found in indices.wrong_types(types, expected, required=spec.time_field):
            by_index.setdefault(found.index, []).append(found.reason)
        for index, wrong in by_index.items():
            detail = f"{index}: {'; '.join(wrong)}; repair with `{repair_command(name)}`"
            out.append(row(name, "mapping", "wrong type", detail, False))
        time_types = {index: found.get(spec.time_field) for index, found in types.items()}
        fresh = indices.freshness(
            ctx.opensearch, spec.pattern, spec.time_field, types=time_types, replaced_field=spec.replaced_field
        )
        newest = f"newest {spec.time_field} {fresh.newest}" if fresh.newest else f"no document has {spec.time_field}"
        notes = [f"{newest} in {spec.pattern}"]
        if fresh.left_out:
            notes.append(f"{len(fresh.left_out)} index(es) left out: {spec.time_field} is not a date there")
        value = f"{fresh.recent} docs / {indices.WINDOW}"
        out.append({**row(name, "freshness", value, "; ".join(notes), fresh.recent > 0), "newest": fresh.newest})
        if spec.variable:
            out.append(variant_row(ctx, name))
        if spec.replaced_field:
            detail = "documents that replaced a different one under the same id (see the indexer's log)"
            out.append(row(name, "replaced", str(fresh.replaced), detail, True))
        return out

    return guarded(name, "freshness", build)
