"""An OpenSearch Dashboards dashboard and its visualizations: the saved objects of one definition file.

Saved objects carry no tags, so logpipe's are known by two things together: an id of logpipe's
(``logpipe-<pipeline>`` for the dashboard, ``logpipe-<pipeline>-…`` for its visualizations) and
a description that starts with :data:`MARKER`. An object under one of those ids without the
marker is someone else's: it is never overwritten or deleted (a conflict, as for the other
kinds). Only the ids in the definition are ever read, written or deleted, so a user's own
dashboards and visualizations, even on logpipe's index pattern, are never touched.

Drift is any difference between the stored object and the file in its attributes or references;
JSON held in strings (``visState``, ``panelsJSON``, ``searchSourceJSON``...) is compared as data,
and what Dashboards adds itself (``updated_at``, ``version``, ``migrationVersion``, ``namespaces``,
``originId``...) is left out. ``up`` writes only the objects that differ, through the saved-objects
import (the format the definition is in), in the configured tenant.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from logpipe.engine.context import Context
from logpipe.engine.model import Observed, Resource, same
from logpipe.errors import LogpipeError
from logpipe.opensearch.client import path_part
from logpipe.resources.data_plane import DataPlaneResource

KIND = "opensearch-dashboard"
MARKER = "Made by logpipe"
ID_PREFIX = "logpipe-"
# Attributes holding JSON text, compared parsed; searchSourceJSON sits inside kibanaSavedObjectMeta.
_JSON_ATTRIBUTES = ("visState", "uiStateJSON", "panelsJSON", "optionsJSON")
# What an import needs of a definition line; the rest (updated_at, version...) is the exporter's.
_IMPORTED_KEYS = ("type", "id", "attributes", "references", "migrationVersion")


def dashboard_id(pipeline: str) -> str:
    return f"{ID_PREFIX}{pipeline}"


def dashboard_url(base_url: str, dashboard: str, tenant: str | None = None, ui_path: str = "/_dashboards") -> str:
    """Where a browser opens the dashboard, on the domain's Dashboards (or Kibana) endpoint."""
    query = f"?security_tenant={quote(tenant, safe='')}" if tenant else ""
    return f"{base_url.rstrip('/')}{ui_path}/app/dashboards{query}#/view/{quote(dashboard, safe='')}"


def is_owned(obj: dict[str, Any]) -> bool:
    description = (obj.get("attributes") or {}).get("description")
    return isinstance(description, str) and MARKER in description


def comparable(obj: dict[str, Any]) -> dict[str, Any]:
    """The part of a saved object that ``up`` sets, JSON texts parsed: what drift is measured on."""
    attributes = dict(obj.get("attributes") or {})
    for name in _JSON_ATTRIBUTES:
        if name in attributes:
            attributes[name] = _parsed(attributes[name])
    meta = attributes.get("kibanaSavedObjectMeta")
    if isinstance(meta, dict) and "searchSourceJSON" in meta:
        attributes["kibanaSavedObjectMeta"] = {**meta, "searchSourceJSON": _parsed(meta["searchSourceJSON"])}
    references = sorted(
        (r for r in obj.get("references") or [] if isinstance(r, dict)),
        key=lambda r: (str(r.get("name")), str(r.get("type")), str(r.get("id"))),
    )
    return {"attributes": attributes, "references": references}


def object_key(obj: dict[str, Any]) -> str:
    return f"{obj['type']} {obj['id']}"


def _parsed(value: Any) -> Any:
    """JSON text as data; text that does not parse (someone broke it by hand) stays text, so it differs."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


class Unusable:
    """The desired state of a definition that failed its checks: never equal to what is stored, so
    ``up`` tries, and fails with the problems, instead of declaring the dashboard in place."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)

    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "unusable definition: " + "; ".join(self.problems)

    __str__ = __repr__


class Dashboard(DataPlaneResource):
    """The dashboard ``logpipe-<pipeline>`` and its visualizations, as ``objects`` (a definition file's
    saved objects, read from ``source``) describe them; ``problems``: what the file's checks found."""

    kind = KIND

    def __init__(
        self,
        pipeline: str,
        *,
        objects: Sequence[dict[str, Any]],
        problems: Sequence[str] = (),
        source: str = "",
        domain: Resource,
        after: tuple[Resource, ...] = (),
    ) -> None:
        super().__init__(dashboard_id(pipeline), domain, after=after)
        self.objects = [dict(o) for o in objects]
        self.problems = tuple(problems)
        self.source = source

    def describe(self) -> str:
        boards = [o for o in self.objects if o.get("type") == "dashboard"]
        title = (boards[0].get("attributes") or {}).get("title") if boards else self.name
        count = sum(1 for o in self.objects if o.get("type") == "visualization")
        return f"dashboard {title!r} with {count} visualizations"

    def url(self, ctx: Context) -> str:
        client = self.client(ctx)
        return dashboard_url(client.base_url, self.name, ctx.config.opensearch.tenant, client.ui.path)

    # verbs ----------------------------------------------------------------------------
    def desired(self, ctx: Context) -> dict[str, Any]:
        if self.problems:
            return {"definition": Unusable(self.problems)}
        return {object_key(o): comparable(o) for o in self.objects}

    def diff(self, observed: Observed, desired: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
        """Per object that differs, only its attributes (and references) that differ; an object that
        is missing shows as None -> its title."""
        changes: dict[str, tuple[Any, Any]] = {}
        for key, want in desired.items():
            have = observed.props.get(key)
            if isinstance(want, Unusable):
                changes[key] = (have, want)
            elif have is None:
                changes[key] = (None, {"title": want["attributes"].get("title")})
            elif not same(have, want):
                changes[key] = _differing(have, want)
        return changes

    def read_inside(self, ctx: Context) -> Observed | None:
        # Every object of the file in one request; one that does not exist comes back with an error.
        wanted = [{"type": obj["type"], "id": obj["id"]} for obj in self.objects]
        reply = self.client(ctx).dashboards("POST", "/api/saved_objects/_bulk_get", body=wanted)
        found = {
            object_key(stored): stored
            for stored in (reply or {}).get("saved_objects", [])
            if not stored.get("error") and stored.get("attributes") is not None
        }
        if not found:
            return None
        foreign = sorted(key for key, stored in found.items() if not is_owned(stored))
        notes = []
        if foreign:
            notes.append(f"{', '.join(foreign)} exist without logpipe's marker ({MARKER!r}): someone else's")
        if len(found) < len(self.objects):
            notes.append(f"{len(self.objects) - len(found)} of {len(self.objects)} objects missing")
        if self.problems:
            notes.append(f"{self.source} is unusable: {self.problems[0]}")
        tenant = ctx.config.opensearch.tenant
        if tenant:
            notes.append(f"tenant {tenant}")
        return Observed(
            {key: comparable(stored) for key, stored in found.items()},
            {"id": self.name, "url": self.url(ctx)},
            owned=not foreign,
            raw=found,
            note="; ".join(notes),
        )

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        self._refuse_unusable()
        # Without overwrite Dashboards refuses (writing nothing) an id that appeared since the plan.
        self._import(ctx, self.objects, overwrite=False)
        return {"id": self.name, "url": self.url(ctx)}

    def update(self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict) -> None:
        self._refuse_unusable()
        # Only what differs: the objects already as the file says are not written again.
        self._import(ctx, [o for o in self.objects if object_key(o) in changes], overwrite=True)
        return None

    def delete(self, ctx: Context, observed: Observed) -> None:
        stored = observed.raw or {}
        # The dashboard first: its panels would otherwise point at nothing while the rest goes.
        for obj in sorted(self.objects, key=lambda o: o["type"] != "dashboard"):
            if is_owned(stored.get(object_key(obj), {})):
                path = f"/api/saved_objects/{path_part(obj['type'])}/{path_part(obj['id'])}"
                self.client(ctx).dashboards("DELETE", path, missing=None)

    # writing --------------------------------------------------------------------------------
    def _refuse_unusable(self) -> None:
        if self.problems:
            raise LogpipeError(f"dashboard {self.name} not written: " + "; ".join(self.problems))

    def _import(self, ctx: Context, objects: list[dict[str, Any]], *, overwrite: bool) -> None:
        lines = "".join(json.dumps({k: o[k] for k in _IMPORTED_KEYS if k in o}) + "\n" for o in objects)
        body, content_type = _multipart("file", f"{self.name}.ndjson", lines.encode())
        reply = self.client(ctx).dashboards(
            "POST",
            "/api/saved_objects/_import",
            body=body,
            params={"overwrite": "true"} if overwrite else None,
            headers={"Content-Type": content_type},
        )
        errors = (reply.get("errors") or []) if isinstance(reply, dict) else []
        if not isinstance(reply, dict) or not reply.get("success") or errors:
            found = "; ".join(_import_error(e) for e in errors) or f"unexpected answer {reply!r:.300}"
            raise LogpipeError(f"Dashboards refused the import of {self.source}: {found}")


def _differing(have: dict[str, Any], want: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for name in sorted(set(have["attributes"]) | set(want["attributes"])):
        if not same(have["attributes"].get(name), want["attributes"].get(name)):
            old[name], new[name] = have["attributes"].get(name), want["attributes"].get(name)
    if not same(have["references"], want["references"]):
        old["references"], new["references"] = have["references"], want["references"]
    return old, new


def _import_error(error: dict[str, Any]) -> str:
    detail = error.get("error") or {}
    kind = detail.get("type", "unknown")
    if kind == "missing_references":
        missing = ", ".join(f"{r.get('type')} {r.get('id')}" for r in detail.get("references") or [])
        return f"{error.get('type')} {error.get('id')}: refers to {missing}, which does not exist"
    if kind == "conflict":
        return f"{error.get('type')} {error.get('id')}: exists already (made by someone else since the plan)"
    return f"{error.get('type')} {error.get('id')}: {kind} {detail.get('message', '')}".rstrip()


def _multipart(field: str, filename: str, content: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body with one file part, as a browser uploads an export."""
    boundary = f"logpipe-{uuid.uuid4().hex}"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        "Content-Type: application/ndjson\r\n\r\n"
    ).encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"
