"""What OpenSearch Dashboards does to saved objects on their way in, for the Dashboards stand-in.

Two parts of the real server that the plain CRUD routes of :mod:`logpipe.sandbox.dashboards_api`
do not need, kept here so that module stays a router and a store:

* reading ``POST /api/saved_objects/_import``'s request: a ``multipart/form-data`` body whose
  ``file`` part is an NDJSON export (``routes/import.ts``, ``routes/utils.ts``
  ``createSavedObjectsStreamFromNdJson``: blank lines skipped, the export-details line that
  carries ``exportedCount`` dropped, a line that is not JSON fails the whole request);
* the document migrator every write goes through (``saved_objects/migrations``): an object whose
  ``migrationVersion`` for its type is absent or older than a type's migration runs that
  migration. For visualizations the 7.0.0 ``migrateTableSplits`` parses ``visState`` without a
  guard (``plugins/visualizations/server/saved_objects/visualization_migrations.ts``), so a
  visualization whose ``visState`` is not JSON fails the write with a 500; every other
  visualization migration, and the dashboard ones, let unparsable JSON through unchanged. After
  migrating, the object carries the type's latest migration version.
"""

from __future__ import annotations

import json
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

#: Latest migration version per type in OpenSearch Dashboards 2.x (what an export carries).
LATEST_MIGRATION = {
    "visualization": "7.10.0",
    "dashboard": "7.9.3",
    "search": "7.9.3",
    "index-pattern": "7.6.0",
}
#: The visualization migration that parses ``visState`` unguarded.
_TABLE_SPLITS = (7, 0, 0)
#: ``meta.icon`` of import results, per type (the types' ``management.icon``).
ICONS = {
    "index-pattern": "indexPatternApp",
    "visualization": "visualizeApp",
    "dashboard": "dashboardApp",
    "search": "discoverApp",
}


class BadImport(ValueError):
    """The request cannot be read; ``status`` and ``message`` are what Dashboards answers."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class MigrationFailed(Exception):
    """A migration threw: Dashboards answers the write with a 500 and stores nothing."""


def uploaded_file(body: bytes, content_type: str) -> tuple[str, bytes]:
    """(file name, content) of the ``file`` part of a multipart/form-data body."""
    if content_type.split(";")[0].strip().lower() != "multipart/form-data":
        # hapi refuses a payload type the route does not accept before validation runs.
        raise BadImport(415, "Unsupported Media Type")
    header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(header + body)
    if not message.is_multipart():
        raise BadImport(400, "Invalid multipart payload format")
    for part in message.iter_parts():
        assert isinstance(part, Message)
        if part.get_param("name", header="content-disposition") == "file":
            content = part.get_payload(decode=True)
            return part.get_filename() or "", content if isinstance(content, bytes) else b""
    raise BadImport(400, "[request body.file]: expected value of type [Stream] but got [undefined]")


def read_ndjson(content: bytes) -> list[dict[str, Any]]:
    """The saved objects of an export, in order (the export-details line left out)."""
    out = []
    text = content.decode("utf-8", "replace")
    offset = 0
    for line in text.split("\n"):
        if line.strip():
            try:
                value = json.loads(line)
            except ValueError as exc:
                position = offset + getattr(exc, "pos", 0)
                raise BadImport(400, f"Unexpected token in JSON at position {position}") from None
            if value and not (isinstance(value, dict) and value.get("exportedCount")):
                out.append(value)
        offset += len(line) + 1
    return out


def _version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        return (0,)


def migrate(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` as the document migrator leaves it; raises MigrationFailed where Dashboards throws."""
    type_ = obj.get("type", "")
    latest = LATEST_MIGRATION.get(type_)
    if latest is None:
        return obj
    versions = dict(obj.get("migrationVersion") or {})
    have = _version(versions[type_]) if type_ in versions else (0,)
    if have >= _version(latest):
        return obj
    if type_ == "visualization" and have < _TABLE_SPLITS:
        title = (obj.get("attributes") or {}).get("title")
        try:
            json.loads((obj.get("attributes") or {}).get("visState"))
        except (TypeError, ValueError) as exc:
            reason = f"Failure attempting to migrate saved object '{title}' - SyntaxError: {exc}"
            raise MigrationFailed(reason) from None
    versions[type_] = latest
    return {**obj, "migrationVersion": versions}
