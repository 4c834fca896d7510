"""What an older engine refuses, for a sandbox started as a given engine version.

osmem-server accepts whatever a current OpenSearch accepts. An Amazon OpenSearch Service domain
may run an older engine, and those refuse things logpipe must then not send. The stand-in
applies these rules in front of osmem-server, with the answers the real engines give (checked
against OpenSearch 2.11.1 and 2.19.1 nodes):

* ``flat_object`` exists from OpenSearch 2.7; before (1.x, and Elasticsearch 7.10) a mapping that
  names it is refused: 400 ``mapper_parsing_exception`` "No handler for type [flat_object]
  declared on field [f]".
* Before OpenSearch 2.17 (PR #15375) a document whose flat_object field is an explicit ``null`` is
  refused: 400 ``mapper_parsing_exception`` "object mapping for [_doc] tried to parse field [f] as
  object, but got EOF, ...". (A null *inside* the object is taken: 2.11.1 indexes
  ``{"f": {"x": null}}``.)
* Elasticsearch 7.10 (Open Distro) serves the security API only under ``/_opendistro``:
  ``/_plugins/...`` answers 400 "no handler found for uri [...] and method [...]".
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_VERSION = re.compile(r"(OpenSearch|Elasticsearch)_(\d+)\.(\d+)")
_DOC_WRITE = re.compile(r"^/([^/_][^/]*)/(_doc|_create)(/[^/]+)?/?$")
_BULK = re.compile(r"^(/([^/_][^/]*))?/_bulk/?$")
_MAPPING_WRITE = re.compile(
    r"^/(_index_template/[^/]+|_template/[^/]+|_component_template/[^/]+|[^/_][^/]*(/_mapping)?)/?$"
)

Reply = tuple[int, Any]
#: GET ``path`` upstream -> (status, parsed body).
Upstream = Callable[[str], Reply]


def parse_version(engine_version: str) -> tuple[str, int, int]:
    match = _VERSION.fullmatch(engine_version)
    if match is None:
        raise ValueError(f"not an engine version: {engine_version!r} (OpenSearch_2.11, Elasticsearch_7.10, ...)")
    return match[1], int(match[2]), int(match[3])


def _mapping_error(reason: str, outer: str | None = None) -> dict[str, Any]:
    root = {"type": "mapper_parsing_exception", "reason": reason}
    return {"error": {"root_cause": [root], **{**root, "reason": outer or reason}}, "status": 400}


@dataclass
class EngineRules:
    engine_version: str

    def __post_init__(self) -> None:
        self.engine, major, minor = parse_version(self.engine_version)
        opensearch = self.engine == "OpenSearch"
        self.has_flat_object = opensearch and (major, minor) >= (2, 7)
        self.takes_null_flat_object = opensearch and (major, minor) >= (2, 17)
        self.plugins_paths = opensearch

    @property
    def current(self) -> bool:
        """Nothing to refuse: the stand-in behaves as osmem-server does."""
        return self.has_flat_object and self.takes_null_flat_object and self.plugins_paths

    # requests refused whole ---------------------------------------------------------------
    def refuse(self, method: str, path: str, body: bytes) -> Reply | None:
        if not self.plugins_paths and (path == "/_plugins" or path.startswith("/_plugins/")):
            return 400, {"error": f"no handler found for uri [{path}] and method [{method}]"}
        if not self.has_flat_object and method in ("PUT", "POST") and _MAPPING_WRITE.match(path):
            field = _first_flat_object(_json(body))
            if field:
                reason = f"No handler for type [flat_object] declared on field [{field}]"
                return 400, _mapping_error(reason, f"Failed to parse mapping [_doc]: {reason}")
        return None

    # documents refused one by one -----------------------------------------------------------
    def null_flat_object(self, doc: Any, fields: list[str]) -> dict[str, Any] | None:
        """The per-document error for a flat_object field given as null, or None."""
        if self.takes_null_flat_object or not isinstance(doc, dict):
            return None
        for field in fields:
            if any(value is None for value in _values(doc, field)):
                leaf = field.rsplit(".", 1)[-1]
                return {
                    "type": "mapper_parsing_exception",
                    "reason": f"object mapping for [_doc] tried to parse field [{leaf}] as object, but got EOF, "
                    "has a concrete value been provided to it?",
                }
        return None

    def check_document(self, path: str, body: bytes, upstream: Upstream) -> Reply | None:
        """A single-document write (``/<index>/_doc``, ``_create``) the engine refuses, else None."""
        match = _DOC_WRITE.match(path)
        if match is None or self.takes_null_flat_object:
            return None
        error = self.null_flat_object(_json(body), flat_object_fields(match[1], upstream))
        if error is None:
            return None
        return 400, {"error": {"root_cause": [error], **error}, "status": 400}

    def split_bulk(self, path: str, body: bytes, upstream: Upstream) -> tuple[bytes, dict[int, dict[str, Any]]]:
        """(the ``_bulk`` body without the documents the engine refuses, position -> refused item)."""
        match = _BULK.match(path)
        if match is None or self.takes_null_flat_object:
            return body, {}
        default_index = match[2]
        lines = body.split(b"\n")
        kept: list[bytes] = []
        refused: dict[int, dict[str, Any]] = {}
        fields_of: dict[str, list[str]] = {}
        position, i = 0, 0
        while i < len(lines):
            if not lines[i].strip():
                i += 1
                continue
            action = _json(lines[i]) or {}
            op, meta = next(iter(action.items()), ("index", {}))
            has_source = op in ("index", "create", "update")
            source = lines[i + 1] if has_source and i + 1 < len(lines) else None
            index = (meta or {}).get("_index") or default_index or ""
            error = None
            if op in ("index", "create") and index:
                if index not in fields_of:
                    fields_of[index] = flat_object_fields(index, upstream)
                error = self.null_flat_object(_json(source or b""), fields_of[index])
            if error is None:
                kept.append(lines[i])
                if source is not None:
                    kept.append(source)
            else:
                item = {"_index": index, "_id": (meta or {}).get("_id"), "status": 400, "error": error}
                refused[position] = {op: item}
            position += 1
            i += 2 if has_source else 1
        return b"\n".join(kept) + b"\n" if kept else b"", refused


def merge_bulk_reply(reply: dict[str, Any], refused: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Upstream's ``_bulk`` answer with the refused items put back at their positions."""
    items = iter(reply.get("items") or [])
    total = len(reply.get("items") or []) + len(refused)
    merged = [refused[p] if p in refused else next(items) for p in range(total)]
    return {**reply, "errors": bool(reply.get("errors")) or bool(refused), "items": merged}


def flat_object_fields(index: str, upstream: Upstream) -> list[str]:
    """Dotted paths mapped as flat_object where a document for ``index`` would go: the index's own
    mapping when it exists, else the composable template with the highest priority matching it."""
    status, body = upstream(f"/{index}/_mapping")
    if status == 200 and isinstance(body, dict) and body:
        mappings = next(iter(body.values())).get("mappings") or {}
        return _flat_paths(mappings.get("properties") or {})
    status, body = upstream("/_index_template")
    best: tuple[int, dict[str, Any]] | None = None
    for entry in (body or {}).get("index_templates", []) if status == 200 else []:
        template = entry.get("index_template") or {}
        if any(fnmatch.fnmatchcase(index, p) for p in template.get("index_patterns") or []):
            priority = int(template.get("priority") or 0)
            if best is None or priority > best[0]:
                best = (priority, template)
    if best is None:
        return []
    mappings = (best[1].get("template") or {}).get("mappings") or {}
    return _flat_paths(mappings.get("properties") or {})


def _flat_paths(properties: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for name, mapping in properties.items():
        path = f"{prefix}{name}"
        if mapping.get("type") == "flat_object":
            out.append(path)
        elif "properties" in mapping:
            out.extend(_flat_paths(mapping["properties"], f"{path}."))
    return out


def _first_flat_object(value: Any) -> str | None:
    """The name of the first field declared ``flat_object`` anywhere in a mapping-bearing body."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(inner, dict) and inner.get("type") == "flat_object":
                return key
            found = _first_flat_object(inner)
            if found:
                return found
    elif isinstance(value, list):
        for inner in value:
            found = _first_flat_object(inner)
            if found:
                return found
    return None


def _values(doc: Any, path: str) -> list[Any]:
    """Every value at dotted ``path`` (through lists); absent keys give nothing."""
    nodes = [doc]
    for key in path.split("."):
        nxt = []
        for node in nodes:
            for item in node if isinstance(node, list) else [node]:
                if isinstance(item, dict) and key in item:
                    nxt.append(item[key])
        nodes = nxt
    return nodes


def _json(data: bytes) -> Any:
    try:
        return json.loads(data) if data and data.strip() else None
    except ValueError:
        return None
