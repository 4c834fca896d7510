"""How ``flat_object`` fields are written for the engine in front of us (``FLAT_OBJECT_MODE``).

Shared by the CloudTrail indexer and the Security Hub transform; shipped in both zips next to
the handler (standard library only), so it is imported as a top-level module there and as
``logpipe.lambdas._flat_object`` in tests and by the template code.

The index templates map the fields each handler lists in ``FLAT_OBJECT_FIELDS`` as
``flat_object``, which only OpenSearch 2.7 and later has, and which before 2.17 rejects a
document holding an explicit ``null`` anywhere inside such a field (OpenSearch PR #15375). So:

* ``native`` (default; OpenSearch >= 2.17): values are left as they are.
* ``no-nulls`` (OpenSearch 2.7-2.16): every ``null`` inside the field is removed — a null member
  of an object is dropped, a null element of a list is dropped — and a field whose whole value
  is null is dropped from the document. A null carries no value to search for; CloudTrail keeps
  the raw record in ``@message`` anyway.
* ``json-string`` (OpenSearch < 2.7, Elasticsearch 7.10): the value becomes its compact JSON
  text (keys sorted; the template maps it as ``text``) and a sibling field
  ``<name>_leaves`` in the same parent object gets the sorted, de-duplicated
  ``"dotted.path=value"`` strings of every scalar leaf (mapped as ``keyword``): list elements
  under their list's path (no index numbers), booleans as ``true``/``false``, null leaves
  omitted, values cut to :data:`MAX_LEAF_CHARS` characters; a scalar (or list) that is the whole
  value is listed under :data:`WRAP_KEY`, the key the native mode of the CloudTrail indexer wraps
  it in. A field whose whole value is null is dropped.

Field paths are dotted (``Resources.Details``); a list met on the way is walked element by
element, so ``Resources.Details`` reaches the ``Details`` of every resource and its leaves go on
that resource object (``Resources[i].Details_leaves``).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

logger = logging.getLogger(__name__)

NATIVE = "native"
NO_NULLS = "no-nulls"
JSON_STRING = "json-string"
#: Accepted ``FLAT_OBJECT_MODE`` values; the first is the default.
FLAT_OBJECT_MODES: tuple[str, ...] = (NATIVE, NO_NULLS, JSON_STRING)

#: Suffix of the sibling keyword field ``json-string`` mode writes next to each field.
LEAVES_SUFFIX = "_leaves"
#: Leaf values longer than this are cut (keyword terms have a 32 KB Lucene limit, and such a
#: value is rarely searched for whole).
MAX_LEAF_CHARS = 1024
#: Key under which a value that is not an object is wrapped (native mode, CloudTrail) or listed
#: (``json-string`` leaves).
WRAP_KEY = "_value"

_warned: set[str] = set()

# Built once: json.dumps with non-default options builds an encoder per call. Non-ASCII stays as
# it is so that the text field can be searched for it.
_ENCODE_SORTED = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, check_circular=False
).encode


def leaves_field(path: str) -> str:
    """The ``json-string`` sibling of a flat_object field path: ``Resources.Details`` →
    ``Resources.Details_leaves``."""
    return path + LEAVES_SUFFIX


def mode_from_env(env: Mapping[str, str] | None = None) -> str:
    """``FLAT_OBJECT_MODE`` of the environment (case and ``_``/``-`` do not matter). An unknown
    value means ``native`` with one warning per distinct value and container: the function keeps
    working as on a current engine, and the log says why."""
    env = os.environ if env is None else env
    raw = env.get("FLAT_OBJECT_MODE", "")
    mode = raw.strip().lower().replace("_", "-")
    if not mode:
        return NATIVE
    if mode in FLAT_OBJECT_MODES:
        return mode
    if raw not in _warned:
        _warned.add(raw)
        logger.warning(
            "logpipe: FLAT_OBJECT_MODE=%r is not one of %s; using %s", raw, ", ".join(FLAT_OBJECT_MODES), NATIVE
        )
    return NATIVE


def split_paths(paths: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    """Dotted field paths → key tuples, once at import rather than per record."""
    return tuple(tuple(path.split(".")) for path in paths)


def _parents(doc: dict[str, Any], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """Every object that holds the last key of a path: follows ``keys[:-1]`` from ``doc``,
    walking lists element by element."""
    nodes = [doc]
    for key in keys[:-1]:
        step: list[dict[str, Any]] = []
        for node in nodes:
            child = node.get(key)
            if type(child) is dict:
                step.append(child)
            elif type(child) is list:
                step.extend(item for item in child if type(item) is dict)
        if not step:
            return step
        nodes = step
    return nodes


def drop_nulls(value: Any) -> bool:
    """Remove, in place, every null member of an object and null element of a list, at any
    depth; True when there was one. Cheap when there is none: each level is searched in C."""
    changed = False
    if type(value) is dict:
        if None in value.values():
            for key in [key for key, item in value.items() if item is None]:
                del value[key]
            changed = True
        for item in value.values():
            if (type(item) is dict or type(item) is list) and drop_nulls(item):
                changed = True
    elif type(value) is list:
        if None in value:
            value[:] = [item for item in value if item is not None]
            changed = True
        for item in value:
            if (type(item) is dict or type(item) is list) and drop_nulls(item):
                changed = True
    return changed


def _leaf_text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    text = value if type(value) is str else json.dumps(value)
    return text[:MAX_LEAF_CHARS]


def _collect(value: Any, path: str, out: list[str]) -> None:
    if type(value) is dict:
        for key, item in value.items():
            _collect(item, f"{path}.{key}" if path else key, out)
    elif type(value) is list:
        for item in value:
            _collect(item, path, out)
    elif value is not None:
        out.append(f"{path}={_leaf_text(value)}")


def leaves(value: Any) -> list[str]:
    """Sorted, de-duplicated ``"dotted.path=value"`` of every scalar leaf of ``value`` (see the
    module docstring); a scalar or list that is the whole value goes under :data:`WRAP_KEY`."""
    out: list[str] = []
    _collect(value, "" if type(value) is dict else WRAP_KEY, out)
    return sorted(set(out))


def apply(doc: dict[str, Any], paths: tuple[tuple[str, ...], ...], mode: str, wrap_scalars: bool = False) -> bool:
    """Rewrite, in place, the flat_object fields ``paths`` of ``doc`` for ``mode``; True when
    anything changed.

    ``wrap_scalars`` (``native`` and ``no-nulls`` only): a value that is not an object becomes
    ``{"_value": value}``, since flat_object takes only objects.
    """
    if mode == NATIVE and not wrap_scalars:
        return False
    changed = False
    for keys in paths:
        leaf = keys[-1]
        # Most paths are one key: the document itself is the parent.
        for parent in (doc,) if len(keys) == 1 else _parents(doc, keys):
            if leaf not in parent:
                continue
            value = parent[leaf]
            if value is None:
                if mode != NATIVE:
                    del parent[leaf]
                    changed = True
                continue
            if mode == JSON_STRING:
                parent[leaf] = _ENCODE_SORTED(value)
                parent[leaf + LEAVES_SUFFIX] = leaves(value)
                changed = True
                continue
            if mode == NO_NULLS and (type(value) is dict or type(value) is list) and drop_nulls(value):
                changed = True
            if wrap_scalars and type(value) is not dict:
                parent[leaf] = {WRAP_KEY: value}
                changed = True
    return changed
