"""Status rows about the OpenSearch side: data freshness, index patterns, role-mapping entries.

Rows are ``{"pipeline", "check", "value", "detail", "ok"}``. Nothing here raises: a missing
index, an unreachable domain or a refused request becomes a row with ``ok`` False and a detail
that says what is wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from logpipe.engine.context import Context
from logpipe.errors import LogpipeError
from logpipe.opensearch import indices, security
from logpipe.opensearch.client import path_part
from logpipe.opensearch.templates import INDEX_PATTERNS, configured_patterns

Row = dict[str, Any]


def row(pipeline: str, check: str, value: str, detail: str, ok: bool) -> Row:
    return {"pipeline": pipeline, "check": check, "value": value, "detail": detail, "ok": ok}


def _guarded(pipeline: str, check: str, build: Callable[[], list[Row]]) -> list[Row]:
    try:
        return build()
    except LogpipeError as exc:
        return [row(pipeline, check, "unknown", str(exc), False)]
    except Exception as exc:  # a status command reports; it never crashes on one check
        return [row(pipeline, check, "unknown", f"{type(exc).__name__}: {exc}", False)]


def freshness_rows(ctx: Context, pipeline: str) -> list[Row]:
    """Documents in the last 24 h and the newest time-field value in ``pipeline``'s indices."""
    if pipeline not in INDEX_PATTERNS:
        return []
    pattern, field = configured_patterns(ctx.config)[pipeline]

    def build() -> list[Row]:
        found = indices.freshness(ctx.opensearch, pattern, field)
        if not found.indices:
            return [
                row(pipeline, "freshness", "no index", f"no index matches {pattern}: no data has arrived yet", False)
            ]
        notes = []
        if found.misfiled:
            hint = " (run `logpipe opensearch purge-flowlog`)" if pipeline == "flowlog" else ""
            notes.append(f"{len(found.misfiled)} index(es) with {field} not mapped as a date left out{hint}")
        newest = f"newest {field} {found.newest}" if found.newest else f"no document has {field}"
        detail = "; ".join([f"{newest} in {pattern}", *notes])
        value = f"{found.recent} docs / {indices.WINDOW}"
        return [row(pipeline, "freshness", value, detail, found.recent > 0 and not found.misfiled)]

    return _guarded(pipeline, "freshness", build)


def index_pattern_rows(ctx: Context, pipeline: str) -> list[Row]:
    from logpipe.resources.index_pattern import TYPE, pattern_id

    title, field = configured_patterns(ctx.config)[pipeline]

    def build() -> list[Row]:
        path = f"/api/saved_objects/{TYPE}/{path_part(pattern_id(pipeline))}"
        reply = ctx.opensearch.dashboards("GET", path, expect=(200, 404))
        if reply.status == 404:
            return [
                row(
                    pipeline,
                    "index pattern",
                    "missing",
                    f"{title} is not in Dashboards: run `logpipe up opensearch`",
                    False,
                )
            ]
        attributes = (reply.body or {}).get("attributes") or {}
        ok = attributes.get("title") == title and attributes.get("timeFieldName") == field
        detail = f"{attributes.get('title')} by {attributes.get('timeFieldName')}"
        return [row(pipeline, "index pattern", "ok" if ok else "drifted", detail, ok)]

    return _guarded(pipeline, "index pattern", build)


def role_mapping_rows(ctx: Context, arns_by_pipeline: dict[str, list[str]]) -> list[Row]:
    role = ctx.config.opensearch.role_mapping

    def build() -> list[Row]:
        mapping = security.get_mapping(ctx.opensearch, role) or {}
        present = set(mapping.get("backend_roles") or [])
        out = []
        for pipeline, arns in arns_by_pipeline.items():
            if not arns:
                out.append(
                    row(pipeline, "role mapping", "none", "the pipeline has no role that writes to OpenSearch", True)
                )
                continue
            missing = [a for a in arns if a not in present]
            names = ", ".join(a.rsplit("/", 1)[-1] for a in arns)
            if missing:
                unmapped = ", ".join(a.rsplit("/", 1)[-1] for a in missing)
                detail = f"not mapped to {role}: {unmapped} (run `logpipe up opensearch`)"
                out.append(row(pipeline, "role mapping", "missing", detail, False))
            else:
                out.append(row(pipeline, "role mapping", "ok", f"{names} → {role}", True))
        return out

    if not _fgac(ctx):
        return [
            row(p, "role mapping", "not used", "fine-grained access control is off on the domain", True)
            for p in arns_by_pipeline
        ]
    return _guarded("opensearch", "role mapping", build)


def opensearch_rows(ctx: Context, pipelines: list[str], arns_by_pipeline: dict[str, list[str]]) -> list[Row]:
    """What ``status opensearch`` adds: each pipeline's index pattern and role-mapping entry."""
    rows: list[Row] = []
    for pipeline in pipelines:
        rows.extend(index_pattern_rows(ctx, pipeline))
    rows.extend(role_mapping_rows(ctx, {p: arns_by_pipeline[p] for p in pipelines if p in arns_by_pipeline}))
    return rows


def _fgac(ctx: Context) -> bool:
    """Fine-grained access control as this run read it (assumed on when the domain was not read)."""
    outputs = ctx.outputs.get(f"opensearch-domain:{ctx.config.opensearch.domain}") or {}
    return bool(outputs.get("fgac", True))
