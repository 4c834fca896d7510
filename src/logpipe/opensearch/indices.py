"""Read-side questions about an index pattern: how fields are mapped, counts, freshness, a marker.

Every function takes the pattern and field names it is asked about; none knows a pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from opensearchpy import helpers

from logpipe.opensearch.client import DataPlane, OpenSearchError, path_part

WINDOW = "24h"
_LENIENT = {"ignore_unavailable": "true", "allow_no_indices": "true"}
# Types that serve a field's purpose as well as the declared one (a date may be date_nanos).
_EQUIVALENT = {"date": {"date", "date_nanos"}, "long": {"long", "integer", "short", "byte"}}


def field_types(client: DataPlane, pattern: str, fields: list[str]) -> dict[str, dict[str, str | None]]:
    """index -> field -> how it is mapped there (``date``, ``text``, ...; None: not mapped), in one call."""
    body = client.call(
        lambda raw: raw.indices.get_field_mapping(fields=",".join(fields), index=pattern, params=_LENIENT),
        what=f"GET /{pattern}/_mapping/field",
        missing={},
    )
    out: dict[str, dict[str, str | None]] = {}
    for index, found in sorted((body or {}).items()):
        mappings = (found or {}).get("mappings") or {}
        row: dict[str, str | None] = {}
        for name in fields:
            leaf = name.rsplit(".", 1)[-1]
            row[name] = (((mappings.get(name) or {}).get("mapping") or {}).get(leaf) or {}).get("type")
        out[index] = row
    return out


@dataclass(frozen=True)
class Mismapped:
    """A field of an existing index mapped otherwise than the pipeline's template says."""

    index: str
    field: str
    actual: str
    expected: str

    def describe(self) -> str:
        return f"{self.index}: {self.field} is {self.actual}, not {self.expected}"

    @property
    def reason(self) -> str:
        if self.actual == NOT_MAPPED:
            return f"no {self.field} field (made before the pipeline's template)"
        return f"{self.field} mapped as {self.actual}, not {self.expected}"


NOT_MAPPED = "not mapped"


def wrong_types(
    found: dict[str, dict[str, str | None]], expected: dict[str, str], *, required: str = ""
) -> list[Mismapped]:
    """Of ``found`` (from :func:`field_types`), the fields an index maps otherwise than ``expected``.

    ``required`` (the time field) must be mapped: an index made from the template always maps it,
    so one that does not was made before the template (the lab's raw FlowLog lines). Another field
    an index has not seen yet is fine: the dynamic template types it when it first arrives.
    """
    out = []
    for index, types in found.items():
        for name, actual in types.items():
            want = expected.get(name)
            if want is None:
                continue
            if actual is None:
                if name == required:
                    out.append(Mismapped(index, name, NOT_MAPPED, want))
            elif actual not in _EQUIVALENT.get(want, {want}):
                out.append(Mismapped(index, name, actual, want))
    return out


def mismapped(client: DataPlane, pattern: str, expected: dict[str, str], *, required: str = "") -> list[Mismapped]:
    """Fields (of ``expected``: field -> type) that an existing index maps as another type."""
    return wrong_types(field_types(client, pattern, sorted(expected)), expected, required=required)


def doc_counts(client: DataPlane, pattern: str) -> dict[str, int]:
    rows = client.call(
        lambda raw: raw.cat.indices(index=pattern, params={"format": "json", "h": "index,docs.count"}),
        what=f"GET /_cat/indices/{pattern}",
        missing=[],
    )
    return {row["index"]: int(row.get("docs.count") or 0) for row in rows or []}


@dataclass
class Freshness:
    indices: int
    left_out: list[str] = field(default_factory=list)
    total: int = 0
    recent: int = 0
    newest: str | None = None
    replaced: int = 0


def freshness(
    client: DataPlane, pattern: str, time_field: str, *, types: dict[str, str | None], replaced_field: str = ""
) -> Freshness:
    """Documents in the last 24 h and the newest ``time_field`` value, in one search.

    ``types`` is index -> how ``time_field`` is mapped there (from :func:`field_types`): indices
    where it is not a date would fail the whole query, so they are left out and named.
    ``replaced_field``: also count documents carrying it (the CloudTrail indexer marks a document
    that replaced a different one under the same id).
    """
    left_out = sorted(i for i, t in types.items() if t not in (None, "date", "date_nanos"))
    result = Freshness(indices=len(types), left_out=left_out)
    if not types or len(left_out) == len(types):
        return result
    target = ",".join([pattern, *(f"-{i}" for i in left_out)])
    aggs: dict[str, Any] = {
        "recent": {"filter": {"range": {time_field: {"gte": f"now-{WINDOW}"}}}},
        "newest": {"max": {"field": time_field}},
    }
    if replaced_field:
        aggs["replaced"] = {"filter": {"exists": {"field": replaced_field}}}
    data = client.call(
        lambda raw: raw.search(index=target, body={"size": 0, "track_total_hits": True, "aggs": aggs}, params=_LENIENT),
        what=f"POST /{target}/_search",
    )
    data = data or {}
    total = (data.get("hits") or {}).get("total") or {}
    result.total = int(total.get("value", 0) if isinstance(total, dict) else total or 0)
    found = data.get("aggregations") or {}
    result.recent = int((found.get("recent") or {}).get("doc_count") or 0)
    result.replaced = int((found.get("replaced") or {}).get("doc_count") or 0)
    newest = found.get("newest") or {}
    if newest.get("value_as_string"):
        result.newest = str(newest["value_as_string"])
    elif newest.get("value") is not None:
        result.newest = datetime.fromtimestamp(float(newest["value"]) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return result


def find_marker(client: DataPlane, pattern: str, field_name: str, marker: str) -> dict[str, Any] | None:
    """The document whose ``field_name`` holds ``marker``, whatever the field's mapping.

    A ``term`` query finds it only in a ``keyword`` field; an index that dynamic mapping typed as
    ``text`` (a template that came too late) holds it as tokens, and there a phrase or the
    ``.keyword`` sub-field does. ``lenient`` keeps an index that maps the field as a number
    from failing the whole search.
    """
    query = {
        "bool": {
            "should": [
                {"term": {field_name: marker}},
                {"term": {f"{field_name}.keyword": marker}},
                {"match_phrase": {field_name: {"query": marker}}},
            ],
            "minimum_should_match": 1,
        }
    }
    data = client.call(
        lambda raw: raw.search(index=pattern, body={"size": 1, "query": query}, params=_LENIENT),
        what=f"POST /{pattern}/_search",
        missing=None,
    )
    hits = ((data or {}).get("hits") or {}).get("hits") or []
    return hits[0].get("_source") or {} if hits else None


def delete_index(client: DataPlane, index: str) -> None:
    """Delete one index by its exact name (never a wildcard)."""
    client.call(lambda raw: raw.indices.delete(index=index), what=f"DELETE /{path_part(index)}", missing=None)


def copy_documents(client: DataPlane, source: str, destination: str) -> int:
    """Copy every document of ``source`` into ``destination``, keeping their ids; returns the count.

    A scroll read and ``_bulk`` writes (opensearch-py's ``helpers.reindex``), not ``_reindex``: that
    is a module a node may lack (the minimal distribution has none), and scroll and bulk every
    engine serves. A document the destination's mapping refuses fails the copy, naming it.
    """
    what = f"copy {source} -> {destination} (scroll and _bulk)"
    try:
        client.call(
            lambda raw: helpers.reindex(raw, source, destination, chunk_size=500, bulk_kwargs={"max_retries": 3}),
            what=what,
        )
    except helpers.BulkIndexError as exc:
        item = next(iter(exc.errors[0].values()), {}) if exc.errors else {}
        error = item.get("error") or {}
        reason = error.get("reason", error) if isinstance(error, dict) else error
        raise OpenSearchError(
            f"{what}: {len(exc.errors)} document(s) refused, e.g. {item.get('_id')}: {reason}"
        ) from None
    client.call(lambda raw: raw.indices.refresh(index=destination), what=f"POST /{destination}/_refresh")
    counts = doc_counts(client, destination)
    return counts.get(destination, 0)
