"""A pipeline's dashboard definition: its NDJSON file, read and checked against its index template.

The file is a Dashboards saved-objects export (one object per line, the format Dashboards' own
export writes and its import reads), so a maintainer can build or change a dashboard in
Dashboards, export it and drop the file in. What logpipe requires of it, each reported with the
file, the line and the object:

* only visualizations and one dashboard, ``logpipe-<pipeline>``; visualization ids start with
  ``logpipe-<pipeline>-``; each ``type:id`` once; each description starts with logpipe's marker
  (:data:`logpipe.resources.dashboard.MARKER`), so that the objects are known as logpipe's;
* every JSON-in-a-string attribute parses (``visState``, ``uiStateJSON``, ``panelsJSON``,
  ``optionsJSON``, ``searchSourceJSON``);
* a visualization is of an aggregation-based type (the fields of TSVB, Vega or Timeline panels
  cannot be checked) and reads the pipeline's index pattern through its references;
* every dashboard panel is a visualization of the file, and every visualization is on a panel;
* every field an aggregation, a query or a filter names is in the pipeline's index template with
  a type OpenSearch can aggregate on, and the type the aggregation needs (a date histogram a
  date, a sum a number): a renamed field fails here instead of emptying a panel.

Nothing here raises on a bad file: the problems travel with the definition, the test suite fails
on them, and ``up`` reports them as that dashboard's failure while the others are still made.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from logpipe.resources.dashboard import MARKER, dashboard_id

NUMBER_TYPES = frozenset(
    {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float", "unsigned_long"}
)
DATE_TYPES = frozenset({"date", "date_nanos"})
#: Field types an aggregation (and so a panel) can use.
AGGREGATABLE = NUMBER_TYPES | DATE_TYPES | {"keyword", "ip", "boolean"}
#: Aggregations that need a particular kind of field.
_NEEDS = {
    "date_histogram": DATE_TYPES,
    "date_range": DATE_TYPES,
    "ip_range": frozenset({"ip"}),
    **{
        agg: NUMBER_TYPES
        for agg in ("sum", "avg", "median", "std_dev", "percentiles", "percentile_ranks", "histogram", "range")
    },
    "min": NUMBER_TYPES | DATE_TYPES,
    "max": NUMBER_TYPES | DATE_TYPES,
}
#: Aggregation-based visualization types: their fields are all in ``visState.aggs``.
VIS_TYPES = frozenset(
    {"area", "line", "histogram", "horizontal_bar", "pie", "table", "metric", "gauge", "goal", "heatmap", "tagcloud"}
)
#: Panels without data (no index pattern, no field).
TEXT_VIS_TYPES = frozenset({"markdown"})
JSON_ATTRIBUTES = ("visState", "uiStateJSON", "panelsJSON", "optionsJSON")
INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"
# A KQL / Lucene field before its colon: at the start, after a space or an opening parenthesis
# (so the colons inside an IPv6 value or a time are not taken for fields).
_QUERY_FIELD = re.compile(r"(?:^|(?<=[\s(]))([A-Za-z_@][\w.@-]*)\s*:")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
# Filter clauses whose keys are field names (OpenSearch query DSL, as Dashboards stores filters).
_FIELD_KEYED_CLAUSES = ("match_phrase", "match", "term", "terms", "range", "prefix", "wildcard", "regexp", "fuzzy")


@dataclass(frozen=True)
class Definition:
    """The saved objects of one pipeline's dashboard file, and what is wrong with them."""

    path: str
    objects: tuple[dict[str, Any], ...]
    problems: tuple[str, ...] = ()

    @property
    def usable(self) -> bool:
        return not self.problems


def template_fields(fields: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Dotted field path -> type of every field a template declares, multi-fields included
    (``Title.keyword`` of a text field with a keyword sub-field)."""
    out: dict[str, str] = {}
    for path, mapping in fields.items():
        out[path] = str(mapping.get("type", "object"))
        for sub, sub_mapping in (mapping.get("fields") or {}).items():
            out[f"{path}.{sub}"] = str(sub_mapping.get("type", "object"))
    return out


def load(file: Traversable | Path, *, pipeline: str, pattern_id: str, fields: Mapping[str, str]) -> Definition:
    """Read and check ``file``; ``fields`` is the template's field -> type (:func:`template_fields`)."""
    where = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return Definition(where, (), (f"{where}: cannot read the dashboard definition: {exc}",))
    objects: list[dict[str, Any]] = []
    lines: dict[str, int] = {}
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            problems.append(f"{where} line {number}: not JSON ({exc})")
            continue
        if isinstance(obj, dict) and "exportedCount" in obj:
            continue  # the summary line Dashboards' export ends with
        if not (isinstance(obj, dict) and all(isinstance(obj.get(k), str) for k in ("type", "id"))):
            problems.append(f"{where} line {number}: not a saved object (it needs a type, an id and attributes)")
            continue
        key = f"{obj['type']}:{obj['id']}"
        if key in lines:
            problems.append(f"{where} line {number}: {obj['type']} {obj['id']} appears twice (also line {lines[key]})")
            continue
        lines[key] = number
        objects.append(obj)
    checker = _Checker(pipeline, pattern_id, fields, objects)
    for obj in objects:
        label = f"{where} line {lines[obj['type'] + ':' + obj['id']]} ({obj['type']} {obj['id']})"
        problems += [f"{label}: {problem}" for problem in checker.problems(obj)]
    if not any(o["type"] == "dashboard" for o in objects) and objects:
        problems.append(f"{where}: no dashboard {dashboard_id(pipeline)} in the file")
    if not objects and not problems:
        problems.append(f"{where}: no saved objects in the file")
    return Definition(where, tuple(objects), tuple(problems))


def fields_used(obj: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, what uses it) for every field a saved object's aggregations, query and filters name;
    what uses it is the aggregation type, ``query`` or ``filter``."""
    out: list[tuple[str, str]] = []
    attributes = obj.get("attributes") or {}
    state = _parsed(attributes.get("visState"))
    if isinstance(state, dict):
        for agg in state.get("aggs") or []:
            out += _agg_fields(agg)
    search = _parsed((attributes.get("kibanaSavedObjectMeta") or {}).get("searchSourceJSON"))
    if isinstance(search, dict):
        query = search.get("query")
        if isinstance(query, dict) and isinstance(query.get("query"), str):
            out += [(name, "query") for name in query_fields(query["query"])]
        for clause in search.get("filter") or []:
            out += [(name, "filter") for name in _filter_fields(clause)]
    return out


def query_fields(query: str) -> list[str]:
    """Field names of a KQL or Lucene query string (quoted values ignored)."""
    return _QUERY_FIELD.findall(_QUOTED.sub('""', query))


def _agg_fields(agg: Any) -> list[tuple[str, str]]:
    if not isinstance(agg, dict):
        return []
    kind, params = str(agg.get("type", "")), agg.get("params") or {}
    out: list[tuple[str, str]] = []
    if not isinstance(params, dict):
        return out
    for key in ("field", "sortField"):
        if isinstance(params.get(key), str) and params[key]:
            out.append((params[key], kind))
    for key in ("customMetric", "customBucket", "orderAgg"):
        out += _agg_fields(params.get(key))
    for entry in params.get("filters") or []:  # the filters aggregation: one query per bucket
        query = (entry.get("input") or {}).get("query") if isinstance(entry, dict) else None
        if isinstance(query, str):
            out += [(name, "query") for name in query_fields(query)]
    return out


def _filter_fields(clause: Any) -> Iterator[str]:
    if not isinstance(clause, dict):
        return
    key = (clause.get("meta") or {}).get("key")
    if isinstance(key, str) and key:
        yield key
    query = clause.get("query") if isinstance(clause.get("query"), dict) else clause
    for name in _FIELD_KEYED_CLAUSES:
        if isinstance(query.get(name), dict):
            yield from (k for k in query[name] if isinstance(k, str))
    exists = query.get("exists")
    if isinstance(exists, dict) and isinstance(exists.get("field"), str):
        yield exists["field"]


def _parsed(value: Any) -> Any:
    if not isinstance(value, str):
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


class _Checker:
    """The checks of one file's objects (they refer to one another)."""

    def __init__(
        self, pipeline: str, pattern_id: str, fields: Mapping[str, str], objects: list[dict[str, Any]]
    ) -> None:
        self.pipeline = pipeline
        self.pattern_id = pattern_id
        self.fields = fields
        self.visualizations = {o["id"] for o in objects if o["type"] == "visualization"}
        self.on_panels = {
            ref.get("id")
            for o in objects
            if o["type"] == "dashboard"
            for ref in o.get("references") or []
            if isinstance(ref, dict) and ref.get("type") == "visualization"
        }

    def problems(self, obj: dict[str, Any]) -> list[str]:
        attributes = obj.get("attributes")
        if not isinstance(attributes, dict):
            return ["no attributes object"]
        out = self._identity(obj, attributes)
        for name in (*JSON_ATTRIBUTES, "kibanaSavedObjectMeta.searchSourceJSON"):
            value = _attribute(attributes, name)
            if value is not None and (not isinstance(value, str) or _parsed(value) is None):
                out.append(f"{name} is not a JSON text")
        if not all(isinstance(r, dict) and {"name", "type", "id"} <= set(r) for r in obj.get("references") or []):
            out.append("references must each have a name, a type and an id")
            return out
        if obj["type"] == "visualization":
            out += self._visualization(obj, attributes)
        elif obj["type"] == "dashboard":
            out += self._dashboard(obj, attributes)
        for field, use in fields_used(obj):
            out += self._field(field, use)
        return out

    def _identity(self, obj: dict[str, Any], attributes: dict[str, Any]) -> list[str]:
        out = []
        board = dashboard_id(self.pipeline)
        if obj["type"] == "dashboard" and obj["id"] != board:
            out.append(f"the dashboard's id must be {board} (one dashboard per pipeline)")
        elif obj["type"] == "visualization" and not obj["id"].startswith(f"{board}-"):
            out.append(f"a visualization's id must start with {board}- (logpipe's objects are under its own ids)")
        elif obj["type"] not in ("dashboard", "visualization"):
            out.append(
                "only visualizations and the dashboard belong in this file (the index pattern is made "
                "from the pipeline's declaration)"
            )
        if not str(attributes.get("description", "")).startswith(MARKER):
            out.append(f"the description must start with {MARKER!r} (how logpipe knows the object is its own)")
        if not attributes.get("title"):
            out.append("no title")
        return out

    def _visualization(self, obj: dict[str, Any], attributes: dict[str, Any]) -> list[str]:
        out = []
        state = _parsed(attributes.get("visState"))
        if not isinstance(state, dict):
            # Text that does not parse is reported with the other JSON attributes.
            return [] if isinstance(attributes.get("visState"), str) else ["no visState"]
        kind = state.get("type")
        if kind not in VIS_TYPES | TEXT_VIS_TYPES:
            allowed = ", ".join(sorted(VIS_TYPES | TEXT_VIS_TYPES))
            out.append(f"visualization type {kind!r} cannot be checked against the template; use one of {allowed}")
        if not isinstance(state.get("aggs", []), list):
            out.append("visState.aggs is not a list")
        if obj["id"] not in self.on_panels:
            out.append(f"on no panel of {dashboard_id(self.pipeline)}")
        references = obj.get("references") or []
        for ref in references:
            if ref["type"] == "index-pattern" and ref["id"] != self.pattern_id:
                out.append(f"reads index pattern {ref['id']}, not the pipeline's {self.pattern_id}")
            elif ref["type"] not in ("index-pattern",):
                out.append(f"refers to a {ref['type']} ({ref['id']}); only the pipeline's index pattern may be read")
        if kind in TEXT_VIS_TYPES:
            return out
        search = _parsed(_attribute(attributes, "kibanaSavedObjectMeta.searchSourceJSON")) or {}
        name = search.get("indexRefName") if isinstance(search, dict) else None
        if not any(r["name"] == name and r["type"] == "index-pattern" for r in references):
            out.append(
                f"does not read the index pattern through its references (searchSourceJSON.indexRefName "
                f"{INDEX_REF!r} and a reference of that name to index-pattern {self.pattern_id})"
            )
        return out

    def _dashboard(self, obj: dict[str, Any], attributes: dict[str, Any]) -> list[str]:
        out = []
        panels = _parsed(attributes.get("panelsJSON"))
        if not isinstance(panels, list) or not panels:
            return ["panelsJSON holds no panels"]
        references = {r["name"]: r for r in obj.get("references") or []}
        for panel in panels:
            name = panel.get("panelRefName") if isinstance(panel, dict) else None
            ref = references.get(name or "")
            if ref is None:
                out.append(f"panel {name or '(unnamed)'} has no reference (panelRefName and references[].name)")
            elif ref["type"] != "visualization" or ref["id"] not in self.visualizations:
                out.append(f"panel {name} shows {ref['type']} {ref['id']}, which is not a visualization of this file")
        return out

    def _field(self, field: str, use: str) -> list[str]:
        kind = self.fields.get(field)
        if kind is None:
            return [f"field {field} ({use}) is not in the {self.pipeline} index template"]
        if kind not in AGGREGATABLE:
            return [f"field {field} ({use}) is {kind} in the template, which cannot be aggregated"]
        needed = _NEEDS.get(use)
        if needed is not None and kind not in needed:
            return [f"field {field} is {kind} in the template; a {use} aggregation needs {'/'.join(sorted(needed))}"]
        return []


def _attribute(attributes: dict[str, Any], dotted: str) -> Any:
    node: Any = attributes
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node
