"""The Amazon Data Firehose data-transformation contract, shared by logpipe's transform Lambdas.

Shipped inside each transform's zip next to the handler (standard library only), so it is
imported as a top-level module there and as ``logpipe.lambdas._firehose`` in tests.

Contract (Firehose developer guide, "data transformation"), implemented exactly here so the
three handlers cannot drift apart:

* input ``{"records": [{"recordId", "data" (base64), ...}, ...]}``;
* output ``{"records": [...]}`` with exactly one entry per input record, in input order, each
  with the same ``recordId``, a ``result`` of ``Ok`` / ``Dropped`` / ``ProcessingFailed`` and a
  base64 ``data``;
* a record that cannot be transformed fails alone (``ProcessingFailed``; Firehose then writes
  the original record to the ``processing-failed/`` prefix of the backup bucket, so nothing is
  lost), the rest of the batch is unaffected, and bad data never raises;
* the response must stay under the 6 MB synchronous-invocation limit. Transforms can grow a
  record, so the size is budgeted while building the response: a record whose output no longer
  fits becomes ``ProcessingFailed`` with empty ``data`` instead of pushing the response over the
  limit (which would fail the whole invocation and make Firehose retry it forever).

``data`` of a ``ProcessingFailed`` record is the original input (handy in tests and logs;
Firehose ignores it and keeps its own copy); ``data`` of a ``Dropped`` record is empty, since
sending it back would only eat response budget.
"""

from __future__ import annotations

import binascii
import datetime as _dt
import json
import logging
import re
from collections.abc import Callable
from typing import Any

OK = "Ok"
DROPPED = "Dropped"
FAILED = "ProcessingFailed"

#: Response budget in bytes. The Lambda limit is 6 MiB (6,291,456 bytes); 6,000,000 is the
#: figure AWS's own Firehose blueprints budget against, leaving room for the runtime's framing.
RESPONSE_BUDGET = 6_000_000

# Size of one serialised output entry without its recordId and data, as the Lambda runtime
# serialises it (json.dumps with default separators):
# {"recordId": <id>, "result": "<result>", "data": "<data>"} plus the ", " between entries.
_ENTRY_FIXED = len('{"recordId": , "result": "", "data": ""}') + 2
_WRAPPER = len('{"records": []}')

#: Log at most this many per-record failure reasons per invocation (CloudWatch cost/noise).
_MAX_LOGGED_FAILURES = 20

logger = logging.getLogger(__name__)


class Drop(Exception):  # a signal ("drop this record"), not an error
    """Raised by a transform to mark a record ``Dropped`` (e.g. a flow-log header line)."""


# Built once: json.dumps(obj, **non_default_options) constructs a new JSONEncoder on every call,
# which costs about as much as encoding a small document.
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode
_DECODE = json.JSONDecoder().decode


def loads(payload: bytes) -> Any:
    """Parse one record's JSON. UTF-8 only (what Firehose carries); decoding it directly skips
    ``json.loads``' encoding sniffing."""
    return _DECODE(payload.decode("utf-8"))


def dumps_doc(doc: dict[str, Any]) -> bytes:
    """Serialise one output document: compact JSON, UTF-8, followed by a newline.

    ``ensure_ascii=False`` keeps non-ASCII text as UTF-8 rather than ``\\uXXXX`` escapes: the
    document is smaller and OpenSearch stores the same characters either way.
    """
    return (_ENCODE(doc) + "\n").encode("utf-8")


def _id_size(record_id: Any) -> int:
    """Length of ``json.dumps(record_id)``; Firehose ids are plain ASCII digits/letters."""
    if type(record_id) is str and record_id.isascii() and record_id.isalnum():
        return len(record_id) + 2
    return len(json.dumps(record_id))


def _ids_size(ids: list[Any]) -> int:
    """Total of :func:`_id_size` over ``ids``, checked in one go for the usual all-alphanumeric
    batch (a per-id Python call costs as much as a small transform)."""
    try:
        joined = "".join(ids)
    except TypeError:
        joined = ""
    if joined.isascii() and joined.isalnum():
        return len(joined) + 2 * len(ids)
    return sum(_id_size(rid) for rid in ids)


def process(event: Any, transform: Callable[[bytes], bytes], name: str = "transform") -> dict[str, Any]:
    """Run ``transform`` over every record of a Firehose event and build the response.

    ``transform`` receives the decoded record bytes and returns the output bytes (use
    :func:`dumps_doc`); it raises :class:`Drop` to drop the record and any other exception to
    fail it. Never raises on bad input: a malformed event yields an empty or all-failed batch.
    """
    records = event.get("records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        logger.error("%s: event has no records list; nothing to do", name)
        return {"records": []}

    # Reserve the size of a minimal (failed, empty-data) entry for every record first, so that
    # whatever happens every record can still be answered within the budget.
    ids = [rec.get("recordId") if isinstance(rec, dict) else None for rec in records]
    used = _WRAPPER + _ids_size(ids) + len(records) * (_ENTRY_FIXED + len(FAILED))

    out: list[dict[str, Any]] = []
    append = out.append
    counts = {OK: 0, DROPPED: 0, FAILED: 0}
    logged = 0
    a2b = binascii.a2b_base64
    b2a = binascii.b2a_base64
    ok_extra = len(OK) - len(FAILED)  # only the part beyond the reserved minimal entry costs
    for rec, rid in zip(records, ids, strict=True):
        try:
            raw = rec["data"]
            if not isinstance(raw, str):
                raise TypeError("record data is not a base64 string")
            data = b2a(transform(a2b(raw, strict_mode=True)), newline=False).decode("ascii")
        except Drop:
            result, data, reason = DROPPED, "", ""
        except Exception as exc:  # any failure of one record fails that record only
            raw = rec.get("data") if isinstance(rec, dict) else None
            result, data, reason = FAILED, raw if isinstance(raw, str) else "", f"{type(exc).__name__}: {exc}"
        else:
            # The common case, kept short: it runs once per record.
            extra = len(data) + ok_extra
            if used + extra <= RESPONSE_BUDGET:
                used += extra
                append({"recordId": rid, "result": OK, "data": data})
                continue
            result, data, reason = FAILED, "", "transformed output would push the response over the 6 MB limit"
        extra = len(data) + len(result) - len(FAILED)
        if used + extra > RESPONSE_BUDGET:
            data = ""
        else:
            used += extra
        if result == FAILED and logged < _MAX_LOGGED_FAILURES:
            logger.warning("%s: record %s failed: %s", name, rid, reason[:500])
            logged += 1
        counts[result] += 1
        append({"recordId": rid, "result": result, "data": data})
    counts[OK] = len(out) - counts[DROPPED] - counts[FAILED]
    logger.info("%s: %d records: %d ok, %d dropped, %d failed", name, len(out), *counts.values())
    return {"records": out}


# --- time formatting --------------------------------------------------------------------------
# Exact integer arithmetic instead of datetime.fromtimestamp(x / 1000): no float rounding, and
# far cheaper per record. The calendar date is the only part that needs datetime, and a batch
# spans few days, so it is cached per day.

_EPOCH = _dt.date(1970, 1, 1)
_DAY_CACHE: dict[int, str] = {}
_DAY_CACHE_MAX = 4096


def _day(day: int) -> str:
    text = _DAY_CACHE.get(day)
    if text is None:
        # OverflowError outside years 1..9999: the caller fails the record.
        text = (_EPOCH + _dt.timedelta(days=day)).isoformat()
        if len(_DAY_CACHE) < _DAY_CACHE_MAX:
            _DAY_CACHE[day] = text
    return text


def epoch_millis_to_iso(ms: int) -> str:
    """Epoch milliseconds → ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC), exactly."""
    day, rem = divmod(ms, 86_400_000)
    hour, rem = divmod(rem, 3_600_000)
    minute, rem = divmod(rem, 60_000)
    sec, milli = divmod(rem, 1000)
    return f"{_day(day)}T{hour:02d}:{minute:02d}:{sec:02d}.{milli:03d}Z"


_SEC_CACHE: dict[int, str] = {}
_SEC_CACHE_MAX = 65_536


def epoch_seconds_to_iso(sec: int) -> str:
    """Epoch seconds → ``YYYY-MM-DDTHH:MM:SSZ`` (UTC), exactly.

    Cached: flow log records of one batch share their capture windows, so the same ``start`` /
    ``end`` values recur many times."""
    text = _SEC_CACHE.get(sec)
    if text is None:
        day, rem = divmod(sec, 86_400)
        hour, rem = divmod(rem, 3600)
        minute, second = divmod(rem, 60)
        text = f"{_day(day)}T{hour:02d}:{minute:02d}:{second:02d}Z"
        if len(_SEC_CACHE) >= _SEC_CACHE_MAX:
            _SEC_CACHE.clear()
        _SEC_CACHE[sec] = text
    return text


_ISO_RE = re.compile(r"\d{4}-\d{2}-\d{2}(?:T\d{2}(?::\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?")


def is_iso_datetime(value: str) -> bool:
    """True when ``value`` is an ISO 8601 date(-time) that OpenSearch's
    ``strict_date_optional_time`` also accepts.

    The regex enforces the shape (``datetime.fromisoformat`` alone is too lenient: it reads the
    malformed ``2017-03-16T19:20:177Z`` of the Route 53 docs as a time); ``fromisoformat`` then
    rejects impossible values such as month 13.
    """
    if _ISO_RE.fullmatch(value) is None:
        return False
    try:
        _dt.datetime.fromisoformat(value.replace(",", "."))
    except ValueError:
        return False
    return True
