"""Read-side questions about a pipeline's indices: how the time field is mapped, counts, freshness."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from logpipe.opensearch.client import OpenSearchClient, path_part

WINDOW = "24h"
_LENIENT = {"ignore_unavailable": "true", "allow_no_indices": "true"}


def time_field_types(client: OpenSearchClient, pattern: str, field: str) -> dict[str, str | None]:
    """index -> how ``field`` is mapped in it (``date``, ``long``, ...; None when not mapped at all)."""
    reply = client.get(f"/{path_part(pattern)}/_mapping/field/{path_part(field)}", params=_LENIENT)
    out: dict[str, str | None] = {}
    for index, body in sorted((reply.body or {}).items()):
        found = ((body or {}).get("mappings") or {}).get(field) or {}
        leaf = field.rsplit(".", 1)[-1]
        out[index] = ((found.get("mapping") or {}).get(leaf) or {}).get("type")
    return out


def doc_counts(client: OpenSearchClient, pattern: str) -> dict[str, int]:
    reply = client.get(f"/_cat/indices/{path_part(pattern)}", params={"format": "json", "h": "index,docs.count"})
    return {row["index"]: int(row.get("docs.count") or 0) for row in reply.body or []}


@dataclass
class Freshness:
    indices: int
    misfiled: list[str]
    total: int = 0
    recent: int = 0
    newest: str | None = None


def freshness(client: OpenSearchClient, pattern: str, field: str) -> Freshness:
    """Documents in the last 24 h and the newest ``field`` value, over indices where it is a date.

    Indices where the field is mapped as something else (a FlowLog index from before the
    transform) would fail the whole query, so they are left out and reported.
    """
    types = time_field_types(client, pattern, field)
    misfiled = sorted(i for i, t in types.items() if t not in (None, "date", "date_nanos"))
    result = Freshness(indices=len(types), misfiled=misfiled)
    if not types or len(misfiled) == len(types):
        return result
    target = ",".join([pattern, *(f"-{i}" for i in misfiled)])
    body: dict[str, Any] = {
        "size": 0,
        "track_total_hits": True,
        "aggs": {
            "recent": {"filter": {"range": {field: {"gte": f"now-{WINDOW}"}}}},
            "newest": {"max": {"field": field}},
        },
    }
    reply = client.request("POST", f"/{path_part(target)}/_search", body=body, params=_LENIENT, expect=(200,))
    data = reply.body or {}
    total = (data.get("hits") or {}).get("total") or {}
    result.total = int(total.get("value", 0) if isinstance(total, dict) else total or 0)
    aggs = data.get("aggregations") or {}
    result.recent = int((aggs.get("recent") or {}).get("doc_count") or 0)
    newest = aggs.get("newest") or {}
    if newest.get("value_as_string"):
        result.newest = str(newest["value_as_string"])
    elif newest.get("value") is not None:
        result.newest = datetime.fromtimestamp(float(newest["value"]) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return result
