"""Firehose transform for AWS WAF logs: epoch-millisecond ``timestamp`` → ISO 8601 UTC.

WAF writes one JSON log per Firehose record with ``timestamp`` as epoch **milliseconds**
(e.g. ``1576280412771``). This replaces it with ``2019-12-13T23:40:12.771Z`` so the index
sees a date whatever its mapping (the ``logpipe-waf`` template maps ``timestamp`` as
``strict_date_optional_time||epoch_millis``, so either form is typed as a date). Everything
else in the record is passed on unchanged.

Per record:

* ``timestamp`` an integer (or integral float, or a string of digits) → ISO with milliseconds;
* ``timestamp`` already an ISO 8601 string (e.g. re-sent data) → passed through unchanged;
* not JSON, not an object, no ``timestamp``, or a ``timestamp`` of any other form →
  ``ProcessingFailed`` (Firehose keeps the original in the backup bucket), never a raise.

Environment: none. Output is compact UTF-8 JSON followed by ``\\n``.

Unlike the lab's walkthrough function, which went through ``datetime.utcfromtimestamp(ts /
1000)`` and wrote ``...%f+0000``, the conversion is exact integer arithmetic (no float
rounding of the milliseconds) and much cheaper per record.
"""

from __future__ import annotations

from typing import Any

try:
    from . import _firehose
except ImportError:  # deployed: the zip root holds this module and _firehose.py side by side
    import _firehose  # type: ignore[no-redef]

_to_iso = _firehose.epoch_millis_to_iso
_dumps = _firehose.dumps_doc
_loads = _firehose.loads


def transform_timestamp(value: Any) -> str:
    """The ISO 8601 form of a WAF ``timestamp`` value; raises ``ValueError`` if it has none."""
    kind = type(value)
    if kind is int:
        return _to_iso(value)
    if kind is str:
        if value.isascii() and value.isdigit():
            return _to_iso(int(value))
        if _firehose.is_iso_datetime(value):
            return value
    elif kind is float and value.is_integer():
        return _to_iso(int(value))
    raise ValueError(f"timestamp is neither epoch milliseconds nor ISO 8601: {value!r:.80}")


def transform(payload: bytes) -> bytes:
    """One WAF log record (JSON bytes) → the output document bytes."""
    doc = _loads(payload)
    if type(doc) is not dict:
        raise ValueError("WAF log record is not a JSON object")
    if "timestamp" not in doc:
        raise ValueError("WAF log record has no timestamp")
    doc["timestamp"] = transform_timestamp(doc["timestamp"])
    return _dumps(doc)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Firehose data-transformation entry point."""
    return _firehose.process(event, transform, "waf_transform")
