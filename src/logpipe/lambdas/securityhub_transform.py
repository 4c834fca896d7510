"""Firehose transform for Security Hub findings delivered by EventBridge.

Each Firehose record holds one EventBridge event (``detail-type`` "Security Hub Findings -
Imported", source ``aws.securityhub``) whose ``detail.findings`` array holds the ASFF
finding. The document indexed is the **finding itself** (``CreatedAt`` / ``UpdatedAt`` etc.
kept exactly as the ISO 8601 strings ASFF gives, which the ``logpipe-securityhub`` template
maps as dates), plus the envelope under one extra key:

``"@event": {"id", "time", "account", "region", "source", "detail-type", "resources"}``

(the envelope's own keys, only those present). One object rather than ``event_time``-style
top-level fields keeps ASFF's top level untouched and can never collide with an ASFF field;
the ``@`` prefix follows ``@timestamp`` and sorts it apart in Discover.

One finding per event, and why several are not split or merged: Security Hub sends "a single
finding" per event (SH user guide, EventBridge event formats), and Firehose's OpenSearch
destination indexes each record as exactly one document — a record holding two JSON documents
is not two documents, and the transform cannot add records. So:

* exactly one finding → ``Ok``;
* several findings → ``ProcessingFailed``: Firehose writes the whole original event to the
  backup bucket's ``processing-failed/`` prefix, where all findings survive and can be
  replayed. Indexing only the first would lose the others silently, and nesting them inside
  the first would index them without their own dates and ids;
* no findings array, an empty one, or a finding that is not an object or lacks the ASFF
  mandatory ``CreatedAt`` / ``UpdatedAt`` → ``ProcessingFailed`` (not a findings event);
* not JSON → ``ProcessingFailed``. The handler never raises on bad data.

The ``logpipe-securityhub`` template maps ``ProductFields``, ``UserDefinedFields``,
``Resources[].Details`` and ``Resources[].Tags`` (:data:`FLAT_OBJECT_FIELDS`) as ``flat_object``.

Environment (read per invocation):

* ``FLAT_OBJECT_MODE`` [``native``] — how those fields are written (see ``_flat_object``):
  ``native`` (OpenSearch >= 2.17) leaves them as they are; ``no-nulls`` (2.7-2.16) removes
  every null inside them — ASFF uses null only for "no value", so nothing searchable is lost;
  ``json-string`` (< 2.7, Elasticsearch 7.10) writes each as its JSON text with a
  ``<field>_leaves`` keyword list beside it (``Resources[i].Details_leaves`` on each resource).
  An unknown value means ``native``, with a warning.
"""

from __future__ import annotations

from typing import Any

try:
    from . import _firehose, _flat_object
except ImportError:  # deployed: the zip root holds this module and its helpers side by side
    import _firehose  # type: ignore[no-redef]
    import _flat_object  # type: ignore[no-redef]

#: Envelope keys copied into ``@event``.
ENVELOPE_KEYS = ("id", "time", "account", "region", "source", "detail-type", "resources")
#: Where the envelope goes in the document.
EVENT_KEY = "@event"
#: ASFF fields the ``logpipe-securityhub`` template maps as flat_object (dotted paths, as the
#: template names them; ``Resources`` is a list, walked element by element).
FLAT_OBJECT_FIELDS: tuple[str, ...] = ("ProductFields", "UserDefinedFields", "Resources.Details", "Resources.Tags")
#: ``FLAT_OBJECT_MODE`` values, default first.
FLAT_OBJECT_MODES: tuple[str, ...] = _flat_object.FLAT_OBJECT_MODES
_FLAT_PATHS = _flat_object.split_paths(FLAT_OBJECT_FIELDS)

_dumps = _firehose.dumps_doc
_loads = _firehose.loads


def transform(payload: bytes, flat_object_mode: str = _flat_object.NATIVE) -> bytes:
    """One EventBridge event (JSON bytes) → the finding document bytes."""
    event = _loads(payload)
    if type(event) is not dict:
        raise ValueError("record is not a JSON object")
    detail = event.get("detail")
    findings = detail.get("findings") if type(detail) is dict else None
    if type(findings) is not list or not findings:
        raise ValueError("event has no detail.findings (not a Security Hub findings event)")
    if len(findings) > 1:
        raise ValueError(
            f"event carries {len(findings)} findings; one record indexes as one document, "
            "so the event is kept whole in the processing-failed output"
        )
    finding = findings[0]
    if type(finding) is not dict:
        raise ValueError("finding is not a JSON object")
    for key in ("CreatedAt", "UpdatedAt"):
        if type(finding.get(key)) is not str:
            raise ValueError(f"finding has no {key}")
    _flat_object.apply(finding, _FLAT_PATHS, flat_object_mode)
    finding[EVENT_KEY] = {key: event[key] for key in ENVELOPE_KEYS if key in event}
    return _dumps(finding)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Firehose data-transformation entry point."""
    mode = _flat_object.mode_from_env()
    if mode == _flat_object.NATIVE:
        return _firehose.process(event, transform, "securityhub_transform")
    return _firehose.process(event, lambda payload: transform(payload, mode), "securityhub_transform")
