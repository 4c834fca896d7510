"""OpenSearch Dashboards saved-objects API, in memory, for the OpenSearch stand-in.

Served under ``/_dashboards`` as on an Amazon OpenSearch Service domain. Behaviour follows
OpenSearch Dashboards' ``src/core/server/saved_objects`` routes:

* every request that is not GET/HEAD/OPTIONS needs an ``osd-xsrf`` (or ``osd-version``) header,
  else 400 ``Request must contain a osd-xsrf header.`` (``kbn-xsrf`` is not accepted);
* ``POST /api/saved_objects/{type}/{id}`` answers 409 when the object exists, unless
  ``?overwrite=true``; ``PUT`` (update) merges top-level attributes and answers 404 when absent;
* ``POST /api/saved_objects/_import`` takes an NDJSON export as the ``file`` part of a multipart
  form and answers per object (``conflict``, ``missing_references`` for index patterns and saved
  searches that exist neither in the file nor in the tenant, ``unsupported_type``); with a
  conflict or a missing reference it writes nothing at all (``import_saved_objects.ts``,
  ``create_saved_objects.ts``); see :mod:`logpipe.sandbox.dashboards_import`;
* every create runs the document migrator: a visualization without a current ``migrationVersion``
  whose ``visState`` is not JSON fails the request with a 500 and nothing is stored;
* ``_find`` searches like ``simple_query_string`` on analysed ``text`` fields: ``search=cwl-*``
  does *not* find ``cwl-*`` (the prefix ``cwl-`` matches no token) and ``search="cwl-*"`` finds
  every title containing the word ``cwl`` -- clients must compare titles exactly themselves;
* errors are Boom payloads: ``{"statusCode", "error", "message"}``.

Objects live per tenant key (``global``, ``__user__:<user>``, or a custom tenant name); the caller
resolves the key.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from logpipe.sandbox import dashboards_import
from logpipe.sandbox.dashboards_import import BadImport, MigrationFailed

Reply = tuple[int, Any]

DASHBOARDS_VERSION = "2.19.0"
DASHBOARDS_BUILD = 8467

SAVED_OBJECT_TYPES = frozenset(
    {
        "index-pattern",
        "visualization",
        "dashboard",
        "search",
        "config",
        "query",
        "url",
        "homepage",
        "augment-vis",
        "visualization-visbuilder",
        "observability-panel",
        "observability-visualization",
        "observability-search",
        "data-source",
    }
)

_BOOM_ERRORS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
}
_TOKEN = re.compile(r"\w+(?:[.']\w+)*")
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Import errors the caller can resolve (by overwriting, or by making the reference first): while
# any is pending, Dashboards creates none of the objects (create_saved_objects.ts).
_RESOLVABLE = ("conflict", "ambiguous_conflict", "missing_references")
# Reference types an import checks exist (validate_references.ts); other references may dangle.
_CHECKED_REFERENCE_TYPES = ("index-pattern", "search")
_INTERNAL_ERROR = "An internal server error occurred"
_INVALID_JSON = object()


def boom(status: int, message: str) -> Reply:
    """A hapi Boom error payload, the shape every Dashboards error has."""
    return status, {"statusCode": status, "error": _BOOM_ERRORS.get(status, "Error"), "message": message}


def _now() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _not_found(type_: str, id_: str) -> Reply:
    return boom(404, f"Saved object [{type_}/{id_}] not found")


def _conflict(type_: str, id_: str) -> Reply:
    return boom(409, f"Saved object [{type_}/{id_}] conflict")


def _tokens(text: str) -> list[str]:
    """Roughly what the standard analyzer makes of a string."""
    return _TOKEN.findall(text.lower())


@dataclass
class DashboardsApi:
    """Saved objects per tenant. Not thread-safe by itself; ``revision`` increases on every change."""

    objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    seq: int = 0
    revision: int = 0

    # -- persistence ---------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "objects": self.objects}

    def load_json(self, data: Mapping[str, Any]) -> None:
        objects = data.get("objects")
        if not isinstance(objects, dict) or not isinstance(data.get("seq"), int):
            raise ValueError("state: dashboards must hold 'seq' and 'objects'")
        self.objects, self.seq = copy.deepcopy(objects), data["seq"]

    # -- dispatch --------------------------------------------------------------------------------------

    def handle(
        self, method: str, parts: list[str], query: str, headers: Mapping[str, str], body: bytes, tenant: str
    ) -> Reply:
        """Serve ``/_dashboards/<parts...>`` in ``tenant``; ``headers`` keys are lower-case."""
        if method not in _SAFE_METHODS and "osd-xsrf" not in headers and "osd-version" not in headers:
            return boom(400, "Request must contain a osd-xsrf header.")
        params = parse_qs(query, keep_blank_values=True)
        if parts == ["api", "status"] and method == "GET":
            return 200, self._status_body()
        if parts == ["api", "opensearch-dashboards", "settings"] and method in ("GET", "POST"):
            return self._settings(method, body, tenant)
        if parts[:2] != ["api", "saved_objects"] or len(parts) < 3:
            return boom(404, "Not Found")
        rest = parts[2:]
        routes: dict[tuple[str, ...], Callable[[], Reply]] = {
            ("GET", "_find"): lambda: self._find(params, tenant),
            ("POST", "_bulk_get"): lambda: self._bulk_get(body, tenant),
            ("POST", "_bulk_create"): lambda: self._bulk_create(body, params, tenant),
            ("POST", "_import"): lambda: self._import(body, headers.get("content-type", ""), params, tenant),
        }
        if len(rest) == 1 and (method, rest[0]) in routes:
            return routes[(method, rest[0])]()
        if len(rest) == 1 and method == "POST" and not rest[0].startswith("_"):
            return self._create(rest[0], None, body, params, tenant)
        if len(rest) != 2 or rest[0].startswith("_"):
            return boom(404, "Not Found")
        type_, id_ = rest
        if method == "GET":
            return self._get(type_, id_, tenant)
        if method == "POST":
            return self._create(type_, id_, body, params, tenant)
        if method == "PUT":
            return self._update(type_, id_, body, tenant)
        if method == "DELETE":
            return self._delete(type_, id_, tenant)
        return boom(404, "Not Found")

    # -- helpers ----------------------------------------------------------------------------------------

    def _store(self, tenant: str) -> dict[str, dict[str, Any]]:
        return self.objects.setdefault(tenant, {})

    def _next_version(self) -> str:
        self.seq += 1
        return base64.b64encode(json.dumps([self.seq, 1], separators=(",", ":")).encode()).decode()

    @staticmethod
    def _json_body(body: bytes) -> Any:
        try:
            return json.loads(body) if body.strip() else None
        except ValueError:
            return _INVALID_JSON

    def _put_object(
        self,
        tenant: str,
        type_: str,
        id_: str,
        attributes: dict[str, Any],
        references: list[Any],
        extra: Mapping[str, Any],
    ) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "id": id_,
            "type": type_,
            "attributes": copy.deepcopy(attributes),
            "references": copy.deepcopy(references),
            "updated_at": _now(),
            "version": self._next_version(),
        }
        if extra.get("migrationVersion") is not None:
            obj["migrationVersion"] = copy.deepcopy(extra["migrationVersion"])
        if extra.get("originId") is not None:
            obj["originId"] = extra["originId"]
        self._store(tenant)[f"{type_}:{id_}"] = obj
        self.revision += 1
        return copy.deepcopy(obj)

    @staticmethod
    def _migrated(items: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """Each new object as the document migrator leaves it; None when a migration throws (a 500:
        the repository migrates every object before it writes any)."""
        try:
            return [dashboards_import.migrate(item) for item in items]
        except MigrationFailed:
            return None

    @staticmethod
    def _check_new(type_: str, body: Any) -> Reply | None:
        if type_ not in SAVED_OBJECT_TYPES:
            return boom(400, f"Unsupported saved object type: '{type_}': Bad Request")
        if not isinstance(body, dict):
            return boom(400, "[request body]: expected a plain object value, but found [null] instead.")
        if not isinstance(body.get("attributes"), dict):
            got = "undefined" if "attributes" not in body else type(body["attributes"]).__name__
            return boom(400, f"[request body.attributes]: expected value of type [object] but got [{got}]")
        references = body.get("references", [])
        if not isinstance(references, list) or not all(
            isinstance(r, dict) and {"name", "type", "id"} <= set(r) for r in references
        ):
            return boom(400, "[request body.references]: expected an array of {name, type, id}")
        return None

    # -- routes -----------------------------------------------------------------------------------------

    def _create(self, type_: str, id_: str | None, raw: bytes, params: dict[str, list[str]], tenant: str) -> Reply:
        body = self._json_body(raw)
        if body is _INVALID_JSON:
            return boom(400, "Invalid request payload JSON format")
        error = self._check_new(type_, body)
        if error:
            return error
        id_ = id_ or str(uuid.uuid4())
        overwrite = params.get("overwrite", ["false"])[-1] == "true"
        if f"{type_}:{id_}" in self._store(tenant) and not overwrite:
            return _conflict(type_, id_)
        migrated = self._migrated([{**body, "type": type_}])
        if migrated is None:
            return boom(500, _INTERNAL_ERROR)
        return 200, self._put_object(tenant, type_, id_, body["attributes"], body.get("references", []), migrated[0])

    def _get(self, type_: str, id_: str, tenant: str) -> Reply:
        obj = self._store(tenant).get(f"{type_}:{id_}")
        return (200, copy.deepcopy(obj)) if obj else _not_found(type_, id_)

    def _update(self, type_: str, id_: str, raw: bytes, tenant: str) -> Reply:
        body = self._json_body(raw)
        if body is _INVALID_JSON:
            return boom(400, "Invalid request payload JSON format")
        if not isinstance(body, dict) or not isinstance(body.get("attributes"), dict):
            return boom(400, "[request body.attributes]: expected value of type [object] but got [undefined]")
        obj = self._store(tenant).get(f"{type_}:{id_}")
        if obj is None:
            return _not_found(type_, id_)
        if body.get("version") is not None and body["version"] != obj["version"]:
            return _conflict(type_, id_)
        obj["attributes"].update(copy.deepcopy(body["attributes"]))
        if "references" in body:
            obj["references"] = copy.deepcopy(body["references"])
        obj["updated_at"], obj["version"] = _now(), self._next_version()
        self.revision += 1
        reply = {key: obj[key] for key in ("id", "type", "updated_at", "version")}
        reply["attributes"] = copy.deepcopy(body["attributes"])
        if "references" in body:
            reply["references"] = copy.deepcopy(body["references"])
        return 200, reply

    def _delete(self, type_: str, id_: str, tenant: str) -> Reply:
        if self._store(tenant).pop(f"{type_}:{id_}", None) is None:
            return _not_found(type_, id_)
        self.revision += 1
        return 200, {}

    def _bulk_get(self, raw: bytes, tenant: str) -> Reply:
        body = self._json_body(raw)
        if not isinstance(body, list) or not all(isinstance(i, dict) and "type" in i and "id" in i for i in body):
            return boom(400, "[request body]: expected value of type [array] of {type, id}")
        out = []
        for item in body:
            obj = self._store(tenant).get(f"{item['type']}:{item['id']}")
            if obj is None:
                out.append({"id": item["id"], "type": item["type"], "error": _not_found(item["type"], item["id"])[1]})
            else:
                out.append(self._project(obj, item.get("fields")))
        return 200, {"saved_objects": out}

    def _bulk_create(self, raw: bytes, params: dict[str, list[str]], tenant: str) -> Reply:
        body = self._json_body(raw)
        if not isinstance(body, list):
            return boom(400, "[request body]: expected value of type [array]")
        overwrite = params.get("overwrite", ["false"])[-1] == "true"
        for item in body:
            error = self._check_new(item.get("type", "") if isinstance(item, dict) else "", item)
            if error:
                return error
        migrated = self._migrated(body)
        if migrated is None:
            return boom(500, _INTERNAL_ERROR)
        out = []
        for item in migrated:
            id_ = item.get("id") or str(uuid.uuid4())
            if f"{item['type']}:{id_}" in self._store(tenant) and not overwrite:
                out.append({"id": id_, "type": item["type"], "error": _conflict(item["type"], id_)[1]})
                continue
            out.append(
                self._put_object(tenant, item["type"], id_, item["attributes"], item.get("references", []), item)
            )
        return 200, {"saved_objects": out}

    def _import(self, raw: bytes, content_type: str, params: dict[str, list[str]], tenant: str) -> Reply:
        """``POST _import``: the steps of ``importSavedObjectsFromStream``, in its order."""
        overwrite = params.get("overwrite", ["false"])[-1] == "true"
        new_copies = params.get("createNewCopies", ["false"])[-1] == "true"
        if overwrite and new_copies:
            return boom(400, "[request query]: cannot use [overwrite] with [createNewCopies]")
        try:
            filename, content = dashboards_import.uploaded_file(raw, content_type)
            extension = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
            if extension != ".ndjson":
                return boom(400, f"Invalid file extension {extension}")
            objects = dashboards_import.read_ndjson(content)
        except BadImport as exc:
            return boom(exc.status, exc.message)
        if not all(isinstance(o, dict) and all(isinstance(o.get(k), str) for k in ("type", "id")) for o in objects):
            return boom(400, "Bad Request")
        keys = [f"{o['type']}:{o['id']}" for o in objects]
        repeated = sorted({k for k in keys if keys.count(k) > 1}, key=keys.index)
        if repeated:
            return boom(400, f"Non-unique import objects detected: [{','.join(repeated)}]: Bad Request")
        errors: list[dict[str, Any]] = []
        collected = []
        for obj in objects:
            if obj["type"] in SAVED_OBJECT_TYPES:
                collected.append({**obj, "attributes": obj.get("attributes") or {}})
            else:
                errors.append(_import_error(obj, {"type": "unsupported_type"}))
        errors += self._missing_references(collected, tenant)
        store = self._store(tenant)
        new_ids: dict[str, str] = {}
        overwrites: set[str] = set()
        if new_copies:
            new_ids = {f"{o['type']}:{o['id']}": str(uuid.uuid4()) for o in collected}
        else:
            for obj in collected:
                key = f"{obj['type']}:{obj['id']}"
                if key not in store:
                    continue
                if overwrite:
                    overwrites.add(key)
                else:
                    errors.append(_import_error(obj, {"type": "conflict"}))
        failed = {(e["type"], e["id"]) for e in errors}
        to_create = [o for o in collected if (o["type"], o["id"]) not in failed]
        if not any(e["error"]["type"] in _RESOLVABLE for e in errors):
            reply = self._create_imported(to_create, new_ids, tenant)
            if reply is not None:
                return reply
        results = []
        for obj in to_create:
            key = f"{obj['type']}:{obj['id']}"
            result: dict[str, Any] = {"type": obj["type"], "id": obj["id"], "meta": _import_meta(obj)}
            if key in overwrites:
                result["overwrite"] = True
            if key in new_ids:
                result["destinationId"] = new_ids[key]
            results.append(result)
        body: dict[str, Any] = {"successCount": len(to_create), "success": not errors}
        if results:
            body["successResults"] = results
        if errors:
            body["errors"] = errors
        return 200, body

    def _missing_references(self, objects: list[dict[str, Any]], tenant: str) -> list[dict[str, Any]]:
        """``validateReferences``: index patterns and saved searches neither imported nor stored."""
        present = {f"{o['type']}:{o['id']}" for o in objects} | set(self._store(tenant))
        out = []
        for obj in objects:
            missing = [
                {"type": r.get("type"), "id": r.get("id")}
                for r in obj.get("references") or []
                if isinstance(r, dict)
                and r.get("type") in _CHECKED_REFERENCE_TYPES
                and f"{r.get('type')}:{r.get('id')}" not in present
            ]
            if missing:
                out.append(_import_error(obj, {"type": "missing_references", "references": missing}))
        return out

    def _create_imported(self, objects: list[dict[str, Any]], new_ids: dict[str, str], tenant: str) -> Reply | None:
        """``bulkCreate`` with overwrite (conflicts were settled before); a 500 if a migration throws."""
        migrated = self._migrated(objects)
        if migrated is None:
            return boom(500, _INTERNAL_ERROR)
        for obj in migrated:
            key = f"{obj['type']}:{obj['id']}"
            references = [
                {**r, "id": new_ids.get(f"{r.get('type')}:{r.get('id')}", r.get("id"))}
                for r in obj.get("references") or []
            ]
            extra = {k: obj[k] for k in ("migrationVersion", "originId") if obj.get(k) is not None}
            self._put_object(tenant, obj["type"], new_ids.get(key, obj["id"]), obj["attributes"], references, extra)
        return None

    @staticmethod
    def _project(obj: dict[str, Any], fields: Any) -> dict[str, Any]:
        out = copy.deepcopy(obj)
        if fields:
            names = [fields] if isinstance(fields, str) else list(fields)
            out["attributes"] = {k: v for k, v in out["attributes"].items() if k in names}
        return out

    def _find(self, params: dict[str, list[str]], tenant: str) -> Reply:
        types = [t for value in params.get("type", []) for t in value.split(",") if t]
        if not types:
            return boom(400, "[request query.type]: expected at least one defined value but got [undefined]")
        try:
            per_page = int(params.get("per_page", ["20"])[-1])
            page = int(params.get("page", ["1"])[-1])
        except ValueError:
            return boom(400, "[request query.per_page]: expected value of type [number]")
        if per_page < 0 or page < 0:
            return boom(400, "[request query.per_page]: Value must be equal to or greater than [0].")
        fields = [f.split("^")[0] for v in params.get("search_fields", []) for f in v.split(",") if f]
        search = params.get("search", [None])[-1]
        operator = params.get("default_search_operator", ["OR"])[-1].upper()
        candidates = [o for o in self._store(tenant).values() if o["type"] in types]
        if search:
            candidates = [o for o in candidates if _matches(search, _field_values(o, fields), operator)]
        for raw in params.get("has_reference", []):
            try:
                ref = json.loads(raw)
            except ValueError:
                return boom(400, "[request query.has_reference]: expected a JSON object {type, id}")
            candidates = [
                o
                for o in candidates
                if any(r.get("type") == ref.get("type") and r.get("id") == ref.get("id") for r in o["references"])
            ]
        filter_ = params.get("filter", [None])[-1]
        if filter_:
            matcher = _kql_filter(filter_)
            if matcher is None:
                return boom(400, f"stand-in: unsupported KQL filter [{filter_}]; use <type>.attributes.<field>:<value>")
            candidates = [o for o in candidates if matcher(o)]
        sort_field = params.get("sort_field", [None])[-1]
        if sort_field:

            def key(o: dict[str, Any]) -> tuple[bool, str]:
                value = (
                    o.get(sort_field) if sort_field in ("updated_at", "type", "id") else o["attributes"].get(sort_field)
                )
                return value is None, "" if value is None else str(value)

            candidates.sort(key=key, reverse=params.get("sort_order", ["asc"])[-1] == "desc")
        start = max(page - 1, 0) * per_page
        attr_fields = [f for v in params.get("fields", []) for f in v.split(",") if f]
        page_objects = [{**self._project(o, attr_fields), "score": 0} for o in candidates[start : start + per_page]]
        return 200, {"page": page, "per_page": per_page, "total": len(candidates), "saved_objects": page_objects}

    # -- other endpoints ------------------------------------------------------------------------------------

    @staticmethod
    def _status_body() -> dict[str, Any]:
        overall = {
            "since": _now(),
            "state": "green",
            "title": "Green",
            "nickname": "Looking good",
            "icon": "success",
            "uiColor": "secondary",
        }
        return {
            "name": "logpipe-standin",
            "uuid": "00000000-0000-4000-8000-000000000000",
            "version": {
                "number": DASHBOARDS_VERSION,
                "build_hash": "standin",
                "build_number": DASHBOARDS_BUILD,
                "build_snapshot": False,
            },
            "status": {"overall": overall, "statuses": [{"id": "core:savedObjects", **overall}]},
            "metrics": {},
        }

    def _settings(self, method: str, raw: bytes, tenant: str) -> Reply:
        """Advanced settings, kept where Dashboards keeps them: the ``config`` saved object."""
        store = self._store(tenant)
        key = f"config:{DASHBOARDS_VERSION}"
        if method == "POST":
            body = self._json_body(raw)
            if not isinstance(body, dict) or not isinstance(body.get("changes"), dict):
                return boom(400, "[request body.changes]: expected value of type [object]")
            attributes = dict(store.get(key, {}).get("attributes", {"buildNum": DASHBOARDS_BUILD}))
            for name, value in body["changes"].items():
                if value is None:
                    attributes.pop(name, None)
                else:
                    attributes[name] = value
            self._put_object(tenant, "config", DASHBOARDS_VERSION, attributes, [], {})
        attributes = store.get(key, {}).get("attributes", {"buildNum": DASHBOARDS_BUILD})
        return 200, {"settings": {name: {"userValue": value} for name, value in attributes.items()}}


def _import_meta(obj: dict[str, Any]) -> dict[str, Any]:
    title = (obj.get("attributes") or {}).get("title")
    icon = dashboards_import.ICONS.get(obj.get("type", ""))
    return {k: v for k, v in (("title", title), ("icon", icon)) if v is not None}


def _import_error(obj: dict[str, Any], error: dict[str, Any]) -> dict[str, Any]:
    """One entry of an import's ``errors``, shaped as ``SavedObjectsImportError``."""
    title = (obj.get("attributes") or {}).get("title")
    entry = {"id": obj.get("id"), "type": obj.get("type"), "meta": _import_meta(obj), "error": error}
    if title is not None:
        entry["title"] = title
    return entry


def _field_values(obj: dict[str, Any], fields: list[str]) -> list[str]:
    attributes = obj["attributes"]
    names = fields or list(attributes)
    return [v for v in (attributes.get(n) for n in names) if isinstance(v, str)]


def _matches(search: str, values: list[str], operator: str) -> bool:
    """A small ``simple_query_string``: phrases, ``prefix*`` terms, words; ``-term`` excludes."""
    value_tokens = [_tokens(v) for v in values]
    clauses: list[tuple[bool, bool]] = []  # (negated, matched)
    for phrase, term in re.findall(r'"([^"]*)"|(\S+)', search):
        negated = term.startswith("-") and len(term) > 1
        term = term[1:] if negated or term.startswith("+") else term
        if phrase:
            words = _tokens(phrase)
            hit = bool(words) and any(
                toks[i : i + len(words)] == words for toks in value_tokens for i in range(len(toks))
            )
        elif term.endswith("*"):
            prefix = term[:-1].lower()
            hit = any(t.startswith(prefix) for toks in value_tokens for t in toks)
        else:
            words = _tokens(term)
            found = [any(w in toks for toks in value_tokens) for w in words]
            hit = bool(found) and (all(found) if operator == "AND" else any(found))
        clauses.append((negated, hit))
    if not clauses:
        return True
    if any(neg and hit for neg, hit in clauses):
        return False
    positive = [hit for neg, hit in clauses if not neg]
    if not positive:
        return True
    return all(positive) if operator == "AND" else any(positive)


def _kql_filter(expression: str) -> Callable[[dict[str, Any]], bool] | None:
    match = re.fullmatch(r'\s*([\w-]+)\.attributes\.([\w.]+)\s*:\s*(?:"([^"]*)"|(\S+))\s*', expression)
    if not match:
        return None
    type_, name, quoted, bare = match.groups()
    value = quoted if quoted is not None else bare
    pattern = re.compile("".join(".*" if c == "*" else re.escape(c) for c in value)) if quoted is None else None

    def matcher(obj: dict[str, Any]) -> bool:
        actual = obj["attributes"].get(name)
        if obj["type"] != type_ or not isinstance(actual, str):
            return False
        if pattern is not None:
            return pattern.fullmatch(actual) is not None
        words, tokens = _tokens(value), _tokens(actual)
        return bool(words) and any(tokens[i : i + len(words)] == words for i in range(len(tokens)))

    return matcher
