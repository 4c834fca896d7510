"""Composable index templates from a pipeline's field list, fitted to the domain's engine version.

Without a template OpenSearch guesses types from whichever document arrives first, and the
guesses are what break these pipelines: an epoch number makes the time field ``long`` (the lab's
"delete the FlowLog indices created before the transform" step), a marker or request id becomes
``text`` so an exact search misses it, and CloudTrail's ``requestParameters`` change shape from
API to API until a document is rejected. Each body built here is for ``PUT _index_template/<name>``
and sets:

* the pipeline's declared fields (its time field as ``date`` with a format taking ISO 8601 and the
  source's raw epoch form, addresses as ``ip``, ids and enums as ``keyword``, counters as numbers);
* ``date_detection: false`` and ``numeric_detection: false``: nothing but the declared fields
  becomes a date or a number by guesswork;
* a dynamic template that maps every other string to ``keyword`` (``ignore_above`` 8191 keeps a
  huge value from failing the document on Lucene's 32 KB term limit; the value stays in
  ``_source``);
* for objects whose keys or value types vary from document to document, the representation the
  engine supports (see :func:`flat_object_mode`);
* ``_meta.managed-by = logpipe`` (ownership, for status/teardown) and a ``priority``.

No shard or replica settings: those belong to the domain, not to logpipe.
"""

from __future__ import annotations

import re
from typing import Any

from logpipe.errors import UsageError

#: Template priority. Above the 0 of templates created without one and of OpenSearch's own
#: built-ins; two templates matching one index with the same priority are refused at index
#: creation, so an explicit value that is not a round number lowers that chance.
PRIORITY = 150
OWNER_KEY = "managed-by"
OWNER_VALUE = "logpipe"
KEYWORD_IGNORE_ABOVE = 8191

ISO_OR_MILLIS = "strict_date_optional_time||epoch_millis"
ISO_OR_SECONDS = "strict_date_optional_time||epoch_second"

#: How variable-shape objects are stored, by engine (the Lambda handlers read the same value from
#: their ``FLAT_OBJECT_MODE`` environment variable and shape documents to match):
#:   native      - ``flat_object`` as is (OpenSearch >= 2.17);
#:   no-nulls    - ``flat_object``, nulls inside removed: before 2.17 an explicit null there fails
#:                 the whole document (OpenSearch PR #15375);
#:   json-string - no ``flat_object`` (OpenSearch < 2.7, Elasticsearch 7.10): the object as JSON
#:                 text (``text``) plus ``<field>_leaves``, every ``path=value`` leaf as a keyword.
FLAT_OBJECT_MODES = ("native", "no-nulls", "json-string")
SUPPORTED_ENGINES = "OpenSearch_1.0 to OpenSearch_3.x, Elasticsearch_7.9 and Elasticsearch_7.10"
_ENGINE = re.compile(r"(OpenSearch|Elasticsearch)_(\d+)\.(\d+)")


def flat_object_mode(engine_version: str) -> str:
    """The flat_object representation a domain of ``engine_version`` accepts; UsageError if unsupported."""
    match = _ENGINE.fullmatch(engine_version or "")
    if match is None:
        raise UsageError(f"engine version {engine_version!r} is not one logpipe supports ({SUPPORTED_ENGINES})")
    engine, major, minor = match[1], int(match[2]), int(match[3])
    if engine == "Elasticsearch":
        # Composable index templates (the only kind logpipe writes) arrived in Elasticsearch 7.8.
        if (major, minor) < (7, 9) or major > 7:
            raise UsageError(f"engine version {engine_version!r} is not one logpipe supports ({SUPPORTED_ENGINES})")
        return "json-string"
    if major > 3:
        raise UsageError(f"engine version {engine_version!r} is not one logpipe supports ({SUPPORTED_ENGINES})")
    if (major, minor) >= (2, 17):
        return "native"
    if (major, minor) >= (2, 7):
        return "no-nulls"
    return "json-string"


def date(fmt: str = ISO_OR_MILLIS) -> dict[str, Any]:
    return {"type": "date", "format": fmt}


def keyword() -> dict[str, Any]:
    return {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE}


def text_and_keyword() -> dict[str, Any]:
    return {"type": "text", "fields": {"keyword": keyword()}}


def ip() -> dict[str, Any]:
    return {"type": "ip"}


def number(kind: str = "long") -> dict[str, Any]:
    return {"type": kind}


def leaf_types(properties: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Dotted field path -> declared type, for every declared field a document can carry."""
    return {path: mapping["type"] for path, mapping in properties.items()}


def _nest(paths: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``{"a.b": m}`` → ``{"a": {"properties": {"b": m}}}``: dotted paths to mapping properties."""
    root: dict[str, Any] = {}
    for path, mapping in paths.items():
        *parents, leaf = path.split(".")
        node = root
        for part in parents:
            node = node.setdefault(part, {"properties": {}})["properties"]
        node[leaf] = mapping
    return root


def variable_fields(fields: tuple[str, ...], mode: str) -> dict[str, dict[str, Any]]:
    """Mappings for the variable-shape objects ``fields`` in ``mode`` (see FLAT_OBJECT_MODES)."""
    if mode == "json-string":
        out: dict[str, dict[str, Any]] = {}
        for field in fields:
            out[field] = {"type": "text"}
            out[f"{field}_leaves"] = keyword()
        return out
    return {field: {"type": "flat_object"} for field in fields}


def index_template(
    pattern: str,
    properties: dict[str, dict[str, Any]],
    description: str,
    *,
    variable: tuple[str, ...] = (),
    mode: str = "native",
) -> dict[str, Any]:
    """The body of ``PUT _index_template/<name>`` for ``pattern``."""
    return {
        "index_patterns": [pattern],
        "priority": PRIORITY,
        "_meta": {OWNER_KEY: OWNER_VALUE, "description": description},
        "template": {
            "mappings": {
                "date_detection": False,
                "numeric_detection": False,
                "dynamic_templates": [{"strings_as_keyword": {"match_mapping_type": "string", "mapping": keyword()}}],
                "properties": _nest({**properties, **variable_fields(variable, mode)}),
            }
        },
    }
