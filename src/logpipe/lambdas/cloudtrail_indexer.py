"""CloudWatch Logs subscription → OpenSearch ``_bulk`` indexer for CloudTrail records.

Replaces the Node.js "LogsToElasticsearch" function the console creates for an OpenSearch
subscription filter, keeping its document shape (``@id``, ``@timestamp``, ``@message``,
``@owner``, ``@log_group``, ``@log_stream`` beside the parsed record) and fixing what makes it
lose or duplicate data:

* **Stable ``_id``**: the CloudTrail ``eventID`` (else the log event ``id``, else a hash of the
  log event), and the index is picked from the record's own ``eventTime`` (UTC day), so a
  redelivered batch cannot add copies.
* **Duplicates are seen, not silent**: documents are sent with ``create``. An ``_id`` that
  already exists is answered 409; those documents are read back with one ``_mget`` and compared
  by their raw record (``@message``). The same record is a redelivery: nothing is written
  (counted ``redelivered``). Another record under the same ``_id`` overwrites it with an extra
  field ``@replaced_id`` (the replaced document's ``@id``; ``unknown`` if it had none), so that
  ``exists: @replaced_id`` counts replacements in OpenSearch itself, and is logged as
  ``logpipe: replaced document <index>/<_id> (old @id X, new @id Y): content differs``
  (counted ``replaced``; at most :data:`MAX_LOGGED_REPLACEMENTS` such lines per invocation).
* **No mapping conflicts**: ``requestParameters``, ``responseElements``,
  ``additionalEventData``, ``serviceEventDetails``, ``insightDetails`` and
  ``userIdentity.sessionContext.webIdFederationData`` (:data:`FLAT_OBJECT_FIELDS`) change shape
  from API to API; the ``logpipe-cloudtrail`` template maps them as ``flat_object``.
  flat_object takes only objects, so a value of another kind (a string, a list, ``true``) is
  wrapped as ``{"_value": value}``; ``null`` stays ``null`` (``FLAT_OBJECT_MODE`` below for
  older engines). ``eventTime`` and every other field are left exactly as CloudTrail wrote them
  (``@message`` keeps the raw record anyway).
* **Nothing silently lost**: 429 / 5xx / connection errors and per-item transient failures
  (429, 5xx, ``*rejected_execution_exception``) are retried with exponential backoff and
  jitter, within the function's remaining time; documents that still fail (or are rejected
  for good, e.g. a mapping error) are written with the reason as JSON lines to S3. The
  invocation raises — so Lambda retries it — only when documents could be neither indexed nor
  written to S3.
* A message that is not a JSON object is indexed as-is (``@message`` and the ``@`` fields,
  nothing parsed) rather than dropped. ``CONTROL_MESSAGE`` payloads are skipped.

Environment (read on every invocation; defaults in brackets):

* ``OPENSEARCH_ENDPOINT`` — domain endpoint host (``https://`` is assumed) or a full URL
  (``http://127.0.0.1:9200``). Required; when unset, documents go straight to S3.
* ``OPENSEARCH_AUTH`` [``sigv4``] — ``sigv4`` signs each request for service ``es`` with the
  function's credentials (botocore); ``none`` sends unsigned requests (local tests).
* ``AWS_REGION`` — signing region (set by Lambda; ``AWS_DEFAULT_REGION`` is the fallback).
* ``INDEX_PREFIX`` [``cwl``] — documents go to ``<prefix>-YYYY.MM.DD``.
* ``MAX_BULK_BYTES`` [5242880] — no ``_bulk`` request body is larger (unless one document
  alone is); 5 MB stays well under the smallest domain's 10 MB HTTP limit.
* ``FAILED_BUCKET`` — bucket for documents that could not be indexed. Without it, such
  documents make the invocation raise.
* ``FAILED_PREFIX`` [``cloudtrail-failed/``] — key prefix; objects are
  ``<prefix>YYYY/MM/DD/HH/<request id>-<random>.jsonl``, one JSON object per document:
  ``{"failed_at", "index", "_id", "status", "error": {"type", "reason"}, "attempts",
  "owner", "log_group", "log_stream", "document"}``.
* ``MAX_ATTEMPTS`` [8] — sends per document at most.
* ``RETRY_BASE_MS`` [250] / ``RETRY_MAX_MS`` [20000] — backoff: the n-th wait is drawn from
  [d/2, d] with d = min(max, base * 2^(n-1)).
* ``SAFETY_MARGIN_MS`` [5000] — time kept back from the function's remaining time for writing
  to S3 and returning; no request is started, nor wait begun, that would eat into it.
* ``HTTP_TIMEOUT_S`` [30] — per-request timeout (also capped by the remaining time).
* ``FLAT_OBJECT_MODE`` [``native``] — ``native`` (OpenSearch >= 2.17), ``no-nulls`` (2.7-2.16:
  nulls inside the flat_object fields removed) or ``json-string`` (< 2.7, Elasticsearch 7.10:
  each field as its JSON text plus ``<field>_leaves``); see ``_flat_object``. An unknown value
  means ``native``, with a warning.

Result (also logged as one ``logpipe: indexed ...`` line): ``indexed`` (documents OpenSearch
holds after the invocation) = ``created`` + ``replaced`` + ``redelivered``; ``failed`` (not
indexed) and ``failed_parked`` (of those, written to S3; else the invocation raised);
``skipped`` (control messages); ``failed_location``; ``requests``.

Standard library only, plus botocore / boto3 from the Lambda runtime (imported lazily: only
when signing or writing to S3). Sending, signing and parking are the module-level functions
:func:`send_bulk` (any POST: ``_bulk`` and ``_mget``), :func:`sign_headers` and
:func:`put_failed_object`, looked up at call time so tests can replace them. :func:`build_bulk`
is everything before the network (decode, documents, ``_bulk`` bodies).

The writer role needs ``indices:data/read/mget`` on the CloudTrail indices besides write
(logpipe's writer role for the pipeline, ``logpipe-<prefix>-cloudtrail-writer``, has it: ``crud``
and ``cluster_composite_ops``).
"""

from __future__ import annotations

import binascii
import datetime as _dt
import gzip
import hashlib
import http.client
import json
import logging
import os
import random
import re
import time
import urllib.error
import urllib.request
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

try:
    from . import _flat_object
except ImportError:  # deployed: the zip root holds this module and _flat_object.py side by side
    import _flat_object  # type: ignore[no-redef]

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

#: CloudTrail fields the ``logpipe-cloudtrail`` template maps as flat_object (dotted paths, as
#: the template names them; the template code imports this tuple).
FLAT_OBJECT_FIELDS: tuple[str, ...] = (
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "serviceEventDetails",
    "insightDetails",
    "userIdentity.sessionContext.webIdFederationData",
)
#: ``FLAT_OBJECT_MODE`` values, default first (see ``_flat_object``).
FLAT_OBJECT_MODES: tuple[str, ...] = _flat_object.FLAT_OBJECT_MODES
FLAT_WRAP_KEY = _flat_object.WRAP_KEY
_FLAT_PATHS = _flat_object.split_paths(FLAT_OBJECT_FIELDS)

#: Per-item error types worth retrying whatever their status (OpenSearch names it
#: ``rejected_execution_exception``, Elasticsearch ``es_rejected_execution_exception``).
TRANSIENT_ERROR_TYPES = frozenset(
    {
        "es_rejected_execution_exception",
        "rejected_execution_exception",
        "opensearch_rejected_execution_exception",
        "circuit_breaking_exception",
        "process_cluster_event_timeout_exception",
        "unavailable_shards_exception",
        "node_not_connected_exception",
        "connect_transport_exception",
    }
)

#: The per-item error of a ``create`` whose ``_id`` exists (status 409).
VERSION_CONFLICT = "version_conflict_engine_exception"

#: A request is not started with less time than this left (after the safety margin).
MIN_REQUEST_MS = 1000

_SENTINEL_INF = float("inf")


class ConfigError(ValueError):
    """An environment variable has an unusable value."""


# --- configuration ----------------------------------------------------------------------------


def _env_int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, not {value}")
    return value


@dataclass(frozen=True)
class Config:
    """The function's settings, from the environment (see the module docstring)."""

    endpoint: str | None
    auth: str = "sigv4"
    region: str | None = None
    index_prefix: str = "cwl"
    max_bulk_bytes: int = 5 * 1024 * 1024
    failed_bucket: str | None = None
    failed_prefix: str = "cloudtrail-failed/"
    max_attempts: int = 8
    retry_base_ms: int = 250
    retry_max_ms: int = 20_000
    safety_margin_ms: int = 5_000
    http_timeout_s: float = 30.0
    flat_object_mode: str = _flat_object.NATIVE

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        """Read the settings; raises :class:`ConfigError` for a malformed value."""
        env = os.environ if env is None else env
        endpoint = env.get("OPENSEARCH_ENDPOINT", "").strip().rstrip("/") or None
        if endpoint and "://" not in endpoint:
            endpoint = "https://" + endpoint
        auth = (env.get("OPENSEARCH_AUTH", "").strip().lower() or "sigv4").replace("-", "")
        if auth not in ("sigv4", "none"):
            raise ConfigError(f"OPENSEARCH_AUTH must be sigv4 or none, not {auth!r}")
        return cls(
            endpoint=endpoint,
            auth=auth,
            region=(env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "").strip() or None,
            index_prefix=env.get("INDEX_PREFIX", "").strip() or "cwl",
            max_bulk_bytes=_env_int(env, "MAX_BULK_BYTES", 5 * 1024 * 1024, 1024),
            failed_bucket=env.get("FAILED_BUCKET", "").strip() or None,
            failed_prefix=env.get("FAILED_PREFIX", "cloudtrail-failed/").strip(),
            max_attempts=_env_int(env, "MAX_ATTEMPTS", 8, 1),
            retry_base_ms=_env_int(env, "RETRY_BASE_MS", 250),
            retry_max_ms=_env_int(env, "RETRY_MAX_MS", 20_000),
            safety_margin_ms=_env_int(env, "SAFETY_MARGIN_MS", 5_000),
            http_timeout_s=float(_env_int(env, "HTTP_TIMEOUT_S", 30, 1)),
            flat_object_mode=_flat_object.mode_from_env(env),
        )


# --- decoding and documents -------------------------------------------------------------------

_DECODE = json.JSONDecoder().decode
# Built once: json.dumps with non-default options constructs a new encoder on every call.
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode
_quote = json.encoder.encode_basestring  # a str as a JSON string literal (C), non-ASCII kept


def decode_event(event: Any) -> dict[str, Any]:
    """``{"awslogs": {"data": base64(gzip(json))}}`` → the subscription payload."""
    data = event["awslogs"]["data"]
    if not isinstance(data, str):
        raise TypeError("awslogs.data is not a string")
    raw = binascii.a2b_base64(data, strict_mode=True)
    # CloudWatch Logs sends one gzip member: zlib inflates it in one call, where gzip.decompress
    # parses the header in Python and loops over members; anything unusual goes to gzip.
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        text = inflater.decompress(raw)
        complete = inflater.eof and not inflater.unused_data
    except zlib.error:
        complete = False
    if not complete:
        text = gzip.decompress(raw)
    payload = _DECODE(text.decode("utf-8"))
    if not isinstance(payload, dict):
        raise ValueError("subscription payload is not a JSON object")
    return payload


_EPOCH = _dt.date(1970, 1, 1)
_UTC = _dt.UTC
# Day number → ISO date; a batch spans few days, so the calendar work is done once per day.
_ISO_DAYS: dict[int, str] = {}


def _iso_day(day: int) -> str:
    text = _ISO_DAYS.get(day)
    if text is None:
        text = (_EPOCH + _dt.timedelta(days=day)).isoformat()
        if len(_ISO_DAYS) >= 4096:
            _ISO_DAYS.clear()
        _ISO_DAYS[day] = text
    return text


def epoch_millis_to_iso(ms: int) -> str:
    """Epoch ms → ``YYYY-MM-DDTHH:MM:SS.mmmZ``, like JavaScript's ``toISOString`` (exact)."""
    day, rem = divmod(ms, 86_400_000)
    hour, rem = divmod(rem, 3_600_000)
    minute, rem = divmod(rem, 60_000)
    sec, milli = divmod(rem, 1000)
    return f"{_iso_day(day)}T{hour:02d}:{minute:02d}:{sec:02d}.{milli:03d}Z"


def _millis_day(ms: int) -> str:
    return _iso_day(ms // 86_400_000).replace("-", ".")


_EVENT_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?")
# CloudTrail's own form (UTC, "Z") with an hour, minute and second in range: its UTC day is its
# date, once the date itself is known to exist.
_UTC_EVENT_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?Z")
_DATES: dict[str, str | None] = {}


def _date_day(date: str) -> str | None:
    """``YYYY-MM-DD`` → ``YYYY.MM.DD``, or None for a date that does not exist (cached)."""
    day = _DATES.get(date, "")
    if day == "":
        try:
            day = _dt.date.fromisoformat(date).strftime("%Y.%m.%d")
        except ValueError:
            day = None
        if len(_DATES) >= 4096:
            _DATES.clear()
        _DATES[date] = day
    return day


def event_day(event_time: Any) -> str | None:
    """UTC ``YYYY.MM.DD`` of a CloudTrail ``eventTime``, or None when it is not ISO 8601."""
    if not isinstance(event_time, str):
        return None
    if _UTC_EVENT_TIME_RE.fullmatch(event_time) is not None:
        return _date_day(event_time[:10])
    if _EVENT_TIME_RE.fullmatch(event_time) is None:
        return None
    try:
        moment = _dt.datetime.fromisoformat(event_time)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(_UTC)
    return moment.strftime("%Y.%m.%d")


def _utf8(text: str) -> bytes:
    """UTF-8 of JSON text. A lone surrogate (from a ``\\udXXX`` escape in the log data) cannot be
    UTF-8; it only ever sits inside a JSON string, where its escape is valid JSON again, so the
    document is indexed instead of the whole batch raising."""
    return text.encode("utf-8", "backslashreplace")


def _action(op: str, index: str, doc_id: str) -> bytes:
    return _utf8(f'{{"{op}":{{"_index":{_quote(index)},"_id":{_quote(doc_id)}}}}}')


@dataclass(slots=True)
class Doc:
    """One document on its way to OpenSearch, with what happened to it so far.

    Sent with ``op`` ``create`` first, so that an existing document with the same ``_id`` is
    answered 409 instead of being overwritten unseen; see :meth:`BulkIndexer.run`.
    ``outcome`` is set once OpenSearch holds the document: ``created``, ``replaced`` (it
    overwrote a document with other content, whose ``@id`` is ``replaced_id``) or
    ``redelivered`` (the same record was already there; nothing was written).
    """

    index: str
    id: str
    source: bytes
    event_id: Any = None
    message: str | None = None
    op: str = "create"
    action: bytes = b""
    attempts: int = 0
    status: int | None = None
    error: dict[str, Any] | None = None
    outcome: str | None = None
    replaced_id: Any = None
    replaces: bool = False

    def __post_init__(self) -> None:
        if not self.action:
            self.action = _action(self.op, self.index, self.id)

    @property
    def size(self) -> int:
        """Bytes this document adds to a ``_bulk`` body (action line, source line, newlines)."""
        return len(self.action) + len(self.source) + 2

    def overwrite(self, old_id: Any) -> None:
        """Turn into an ``index`` (overwrite) of the existing document, marked with its ``@id``
        as ``@replaced_id`` so that OpenSearch itself keeps count of replacements."""
        self.replaced_id = old_id
        self.replaces = True
        marker = _utf8(_ENCODE(REPLACED_UNKNOWN if old_id is None else old_id))
        self.source = self.source[:-1] + b',"' + REPLACED_FIELD.encode() + b'":' + marker + b"}"
        self.op = "index"
        self.action = _action("index", self.index, self.id)


#: Field added to a document that replaced another of the same ``_id`` with other content.
REPLACED_FIELD = "@replaced_id"
#: Its value when the replaced document had no ``@id``.
REPLACED_UNKNOWN = "unknown"

_AT_FIELDS = frozenset({"@id", "@timestamp", "@message", "@owner", "@log_group", "@log_stream"})


def _event_fields(event: Any) -> tuple[str, int, Any]:
    """(message, timestamp ms, log event id) of one log event, whatever its shape."""
    if type(event) is not dict:
        event = {"message": json.dumps(event)}
    message = event.get("message")
    if type(message) is not str:
        message = "" if message is None else json.dumps(message)
    stamp = event.get("timestamp")
    if type(stamp) is not int:  # bool and float included: not what CloudWatch Logs sends
        stamp = int(time.time() * 1000)
    return message, stamp, event.get("id")


def _parse_record(message: str) -> dict[str, Any] | None:
    if message[:1] != "{" and message.lstrip()[:1] != "{":
        return None
    try:
        record = _DECODE(message)
    except ValueError:
        return None
    return record if type(record) is dict else None


def _source(record: dict[str, Any], message: str, changed: bool, at_fields: str) -> str:
    """The document text: the record with the ``@`` fields added.

    A record that nothing changed is CloudTrail's own text with the ``@`` fields spliced in
    before its closing brace: the same JSON value as re-serialising the parsed record, at a
    fraction of the cost. Not when the record already has an ``@`` field (ours win) or spans
    lines (a ``_bulk`` source must be one line).
    """
    if not changed and "\n" not in message and "\r" not in message and not (record.keys() & _AT_FIELDS):
        head = message.rstrip()
        return f"{head[:-1]},{at_fields}}}" if record else f"{{{at_fields}}}"
    for key in _AT_FIELDS & record.keys():
        del record[key]
    text = _ENCODE(record)
    return f"{text[:-1]},{at_fields}}}" if record else f"{{{at_fields}}}"


def build_documents(
    payload: dict[str, Any], index_prefix: str, flat_object_mode: str = _flat_object.NATIVE
) -> list[Doc]:
    """Turn a DATA_MESSAGE payload into documents (one per log event, none dropped)."""
    owner = payload.get("owner")
    group = payload.get("logGroup")
    stream = payload.get("logStream")
    events = payload.get("logEvents")
    docs: list[Doc] = []
    if not isinstance(events, list):
        return docs
    # The same for every document of the batch: serialised once.
    common = f',"@owner":{_ENCODE(owner)},"@log_group":{_ENCODE(group)},"@log_stream":{_ENCODE(stream)}'
    apply_mode = _flat_object.apply
    for event in events:
        message, stamp, event_id = _event_fields(event)
        record = _parse_record(message)
        if record is not None:
            changed = apply_mode(record, _FLAT_PATHS, flat_object_mode, wrap_scalars=True)
            day = event_day(record.get("eventTime")) or _millis_day(stamp)
            doc_id = record.get("eventID")
        else:
            record, changed = {}, False
            day = _millis_day(stamp)
            doc_id = None
        if type(doc_id) is not str or not doc_id or len(_utf8(doc_id)) > 512:
            doc_id = event_id if isinstance(event_id, str) and event_id else None
        if doc_id is None:
            digest = hashlib.sha256(_utf8(f"{group}\n{stream}\n{stamp}\n{message}")).hexdigest()
            doc_id = f"h-{digest[:40]}"
        at_fields = (
            f'"@id":{_ENCODE(event_id)},"@timestamp":"{epoch_millis_to_iso(stamp)}",'
            f'"@message":{_quote(message)}{common}'
        )
        source = _utf8(_source(record, message, changed, at_fields))
        docs.append(Doc(f"{index_prefix}-{day}", doc_id, source, event_id, message))
    return docs


def chunk_documents(docs: list[Doc], max_bytes: int) -> Iterator[list[Doc]]:
    """Split ``docs`` into ``_bulk`` requests of at most ``max_bytes`` (a single document larger
    than that goes alone)."""
    chunk: list[Doc] = []
    size = 0
    for doc in docs:
        if chunk and size + doc.size > max_bytes:
            yield chunk
            chunk, size = [], 0
        chunk.append(doc)
        size += doc.size
    if chunk:
        yield chunk


def bulk_body(chunk: list[Doc]) -> bytes:
    """The ``_bulk`` request body for ``chunk``: action line, source line, per document."""
    return b"".join(part for doc in chunk for part in (doc.action, b"\n", doc.source, b"\n"))


def build_bulk(event: Any, config: Config) -> list[bytes]:
    """Everything the indexer does to a subscription event before the network: decode it,
    build the documents and the ``_bulk`` bodies. Raises on an undecodable event."""
    payload = decode_event(event)
    if payload.get("messageType") == "CONTROL_MESSAGE":
        return []
    docs = build_documents(payload, config.index_prefix, config.flat_object_mode)
    return [bulk_body(chunk) for chunk in chunk_documents(docs, config.max_bulk_bytes)]


# --- transport --------------------------------------------------------------------------------


def send_bulk(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
    """POST one body (``_bulk`` or ``_mget``); returns (HTTP status, response body), status 0
    for a transport error (connection refused, timeout, reset) with the error text as body."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        return 0, f"{type(exc).__name__}: {exc}".encode()


def sign_headers(url: str, body: bytes, headers: dict[str, str], region: str) -> dict[str, str]:
    """SigV4-sign a POST for service ``es`` with the function's credentials (botocore)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.session import Session

    credentials = _credentials_cache.get("creds")
    if credentials is None:
        resolved = Session().get_credentials()
        if resolved is None:
            raise RuntimeError("no AWS credentials found to sign OpenSearch requests")
        credentials = _credentials_cache["creds"] = resolved.get_frozen_credentials()
    request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
    SigV4Auth(credentials, "es", region).add_auth(request)
    return dict(request.headers.items())


# Credentials are resolved once per invocation (cleared by the handler): cheap to reuse across
# chunks, never reused across invocations where the role's session may have rotated.
_credentials_cache: dict[str, Any] = {}


def put_failed_object(bucket: str, key: str, body: bytes, region: str | None) -> None:
    """Write failed documents to S3 (boto3 from the Lambda runtime)."""
    import boto3

    client = boto3.client("s3", region_name=region) if region else boto3.client("s3")
    client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/x-ndjson")


# --- indexing ---------------------------------------------------------------------------------


def _error_of(item: dict[str, Any]) -> dict[str, Any]:
    error = item.get("error")
    if isinstance(error, dict):
        out = {"type": error.get("type"), "reason": error.get("reason")}
        cause = error.get("caused_by")
        if isinstance(cause, dict):
            out["caused_by"] = {"type": cause.get("type"), "reason": cause.get("reason")}
        return out
    return {"type": None, "reason": None if error is None else str(error)}


def _request_error(status: int, body: bytes) -> dict[str, Any]:
    text = body.decode("utf-8", "replace")
    if status == 0:
        return {"type": "connection_error", "reason": text[:1000]}
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and "error" in parsed:
        return _error_of(parsed)
    return {"type": f"http_{status}", "reason": text[:1000]}


def _is_transient(status: int | None, error: dict[str, Any] | None) -> bool:
    if status is None or status == 0 or status == 429 or status >= 500:
        return True
    etype = (error or {}).get("type")
    return isinstance(etype, str) and etype in TRANSIENT_ERROR_TYPES


@dataclass
class _Round:
    """Where the documents of one attempt round end up."""

    indexed: list[Doc] = field(default_factory=list)
    failed: list[Doc] = field(default_factory=list)
    retry: list[Doc] = field(default_factory=list)
    conflicts: list[Doc] = field(default_factory=list)


def _settled(doc: Doc, status: int) -> None:
    doc.status, doc.error = status, None
    doc.outcome = "replaced" if doc.replaces else "created"


@dataclass
class BulkIndexer:
    """Sends documents with ``_bulk``, retrying what is transient, within the time left.

    Documents go as ``create``: one whose ``_id`` already exists is answered 409, and the
    existing documents are then read back with one ``_mget`` per round and compared by their raw
    record (``@message``). The same record is a redelivery (nothing to write, outcome
    ``redelivered``); another record is written over it with ``@replaced_id`` (outcome
    ``replaced``); a document gone meanwhile is simply indexed.

    ``remaining_ms`` returns the function's remaining time (``None`` = unbounded, attempts
    still bounded by ``max_attempts``). ``send``/``sign``/``sleep``/``rand`` are injectable;
    ``send`` POSTs any body (``_bulk`` and ``_mget`` alike).
    """

    config: Config
    send: Callable[[str, bytes, dict[str, str], float], tuple[int, bytes]]
    sign: Callable[[str, bytes, dict[str, str], str], dict[str, str]] | None = None
    remaining_ms: Callable[[], float | None] = lambda: None
    sleep: Callable[[float], None] = time.sleep
    rand: Callable[[], float] = random.random
    requests: int = field(default=0, init=False)

    def _time_left(self) -> float:
        left = self.remaining_ms()
        return _SENTINEL_INF if left is None else left - self.config.safety_margin_ms

    def backoff_ms(self, attempt: int) -> float:
        """Wait before retry ``attempt`` (1-based): uniform in [d/2, d] (equal jitter)."""
        ceiling = min(self.config.retry_max_ms, self.config.retry_base_ms * 2 ** (attempt - 1))
        return ceiling / 2 + self.rand() * ceiling / 2

    def run(self, docs: list[Doc]) -> tuple[list[Doc], list[Doc]]:
        """Index ``docs``; returns (indexed, failed). Indexed documents carry their ``outcome``,
        failed ones their status/error."""
        cfg = self.config
        problem = None
        if not cfg.endpoint:
            problem = {"type": "config_error", "reason": "OPENSEARCH_ENDPOINT is not set"}
        elif cfg.auth == "sigv4" and not cfg.region:
            problem = {"type": "config_error", "reason": "no AWS_REGION to sign requests with"}
        if problem:
            for doc in docs:
                doc.error = problem
            return [], list(docs)
        indexed: list[Doc] = []
        failed: list[Doc] = []
        pending = list(docs)
        attempt = 0
        delay = 0.0
        while pending:
            attempt += 1
            outcome = _Round()
            batch = pending
            while batch:  # overwrites of replaced documents go out in the same round
                self._send_all(batch, attempt, outcome)
                batch = self._resolve_conflicts(outcome)
            indexed.extend(outcome.indexed)
            failed.extend(outcome.failed)
            retry = outcome.retry
            if not retry:
                break
            give_up = None
            if attempt >= cfg.max_attempts:
                give_up = f"gave up after {attempt} attempts"
            else:
                delay = self.backoff_ms(attempt)
                if self._time_left() - delay < MIN_REQUEST_MS:
                    give_up = f"gave up after {attempt} attempts: function time running out"
            if give_up:
                for doc in retry:
                    doc.error = {**(doc.error or {}), "gave_up": give_up}
                failed.extend(retry)
                break
            logger.info("retrying %d documents in %.0f ms (attempt %d)", len(retry), delay, attempt + 1)
            self.sleep(delay / 1000)
            pending = retry
        return indexed, failed

    def _send_all(self, docs: list[Doc], attempt: int, outcome: _Round) -> None:
        """One ``_bulk`` pass over ``docs`` (split to size), sorting each into ``outcome``."""
        # filter_path: only what is read back, not megabytes of per-item metadata.
        url = f"{self.config.endpoint}/_bulk?filter_path=errors,items.*.status,items.*.error"
        queue = list(chunk_documents(docs, self.config.max_bulk_bytes))
        while queue:
            chunk = queue.pop(0)
            left = self._time_left()
            if left < MIN_REQUEST_MS:
                for doc in [d for c in [chunk, *queue] for d in c]:
                    # Keep the last real error, if any, and say why there was no retry.
                    base = doc.error or {"type": "time_exhausted", "reason": "no time left to send"}
                    doc.error = {**base, "gave_up": f"no time left for attempt {attempt}"}
                    outcome.failed.append(doc)
                return
            if not self._send_chunk(url, chunk, min(self.config.http_timeout_s, left / 1000), outcome):
                half = len(chunk) // 2  # 413: split and resend now, not an attempt
                queue[:0] = [chunk[:half], chunk[half:]]

    def _post(self, url: str, body: bytes, content_type: str, timeout: float) -> tuple[int, bytes]:
        """Sign (when configured) and send one POST; signing failures raise."""
        headers = {"Content-Type": content_type}
        if self.sign is not None and self.config.auth == "sigv4":
            headers = self.sign(url, body, headers, self.config.region or "")
        self.requests += 1
        return self.send(url, body, headers, timeout)

    def _send_chunk(self, url: str, chunk: list[Doc], timeout: float, outcome: _Round) -> bool:
        """Send one ``_bulk`` request; False when it must be split (413) and sent again."""
        for doc in chunk:
            doc.attempts += 1
        try:
            status, response = self._post(url, bulk_body(chunk), "application/x-ndjson", timeout)
        except Exception as exc:  # no credentials, botocore missing: will not fix itself
            error = {"type": "signing_error", "reason": f"{type(exc).__name__}: {exc}"}
            for doc in chunk:
                doc.status, doc.error = None, error
            outcome.failed.extend(chunk)
            return True
        if status == 413 and len(chunk) > 1:
            for doc in chunk:
                doc.attempts -= 1
            return False
        if not 200 <= status < 300:
            error = _request_error(status, response)
            for doc in chunk:
                doc.status, doc.error = status, error
            if _is_transient(status, None):
                logger.warning("_bulk answered %s (%s); will retry", status, error.get("type"))
                outcome.retry.extend(chunk)
            else:
                logger.warning("_bulk answered %s (%s): %d documents rejected", status, error, len(chunk))
                outcome.failed.extend(chunk)
            return True
        try:
            parsed = json.loads(response)
            items = parsed["items"]
            if not isinstance(items, list) or len(items) != len(chunk):
                raise ValueError(f"{len(items)} items for {len(chunk)} documents")
        except (ValueError, KeyError, TypeError) as exc:
            error = {"type": "bad_bulk_response", "reason": str(exc)[:500]}
            for doc in chunk:
                doc.status, doc.error = None, error
            outcome.retry.extend(chunk)
            return True
        if not parsed.get("errors"):
            for doc in chunk:
                _settled(doc, 200)
            outcome.indexed.extend(chunk)
            return True
        self._sort_items(chunk, items, outcome)
        return True

    def _sort_items(self, chunk: list[Doc], items: list[Any], outcome: _Round) -> None:
        """Per-item results of a ``_bulk`` answer with errors."""
        permanent: list[Doc] = []
        for doc, item in zip(chunk, items, strict=True):
            result = next(iter(item.values()), {}) if isinstance(item, dict) and item else {}
            status = result.get("status") if isinstance(result, dict) else None
            if isinstance(status, int) and 200 <= status < 300:
                _settled(doc, status)
                outcome.indexed.append(doc)
                continue
            doc.status = status if isinstance(status, int) else None
            doc.error = _error_of(result if isinstance(result, dict) else {})
            if status == 409 and doc.op == "create" and doc.error.get("type") == VERSION_CONFLICT:
                outcome.conflicts.append(doc)
            elif _is_transient(doc.status, doc.error):
                outcome.retry.append(doc)
            else:
                permanent.append(doc)
        if permanent:
            logger.warning("%d documents rejected, e.g. %s: %s", len(permanent), permanent[0].id, permanent[0].error)
            outcome.failed.extend(permanent)

    def _resolve_conflicts(self, outcome: _Round) -> list[Doc]:
        """Read back the documents that answered 409 and decide each; returns those to write
        now (overwrites). Empties ``outcome.conflicts``."""
        conflicts, outcome.conflicts = outcome.conflicts, []
        if not conflicts:
            return []
        left = self._time_left()
        if left < MIN_REQUEST_MS:
            for doc in conflicts:
                doc.error = {**(doc.error or {}), "gave_up": "no time left to compare with the existing document"}
            outcome.failed.extend(conflicts)
            return []
        existing = self._mget(conflicts, min(self.config.http_timeout_s, left / 1000), outcome)
        write_now: list[Doc] = []
        for doc, item in zip(conflicts, existing, strict=True):
            if item is None:
                continue  # already sorted into retry/failed by _mget
            if item.get("found") is not True:
                doc.op, doc.action = "index", _action("index", doc.index, doc.id)  # gone meanwhile
                write_now.append(doc)
                continue
            source = item.get("_source")
            source = source if isinstance(source, dict) else {}
            if source.get("@message") == doc.message:
                doc.status, doc.error, doc.outcome = 200, None, "redelivered"
                outcome.indexed.append(doc)
            else:
                doc.overwrite(source.get("@id"))
                write_now.append(doc)
        return write_now

    def _mget(self, docs: list[Doc], timeout: float, outcome: _Round) -> list[dict[str, Any] | None]:
        """The ``@message`` and ``@id`` of the existing documents, one ``_mget`` entry per doc
        (``{"found": False}`` for a document or index gone meanwhile); None for a doc that could
        not be read, which is then in ``outcome.retry`` or ``outcome.failed``."""
        url = f"{self.config.endpoint}/_mget?filter_path=docs.found,docs._source,docs.error"
        wanted = [{"_index": d.index, "_id": d.id, "_source": ["@message", "@id"]} for d in docs]
        body = _ENCODE({"docs": wanted}).encode("utf-8")
        status: int | None = None
        try:
            status, response = self._post(url, body, "application/json", timeout)
        except Exception as exc:  # signing: no credentials, botocore missing; will not fix itself
            error = {"type": "signing_error", "reason": f"{type(exc).__name__}: {exc}"}
            self._unread(docs, None, error, False, outcome)
            return [None] * len(docs)
        if not 200 <= status < 300:
            error = _request_error(status, response)
            self._unread(docs, status, error, _is_transient(status, None), outcome)
            return [None] * len(docs)
        try:
            found = json.loads(response)["docs"]
            if not isinstance(found, list) or len(found) != len(docs):
                raise ValueError(f"not {len(docs)} docs in the _mget answer")
        except (ValueError, KeyError, TypeError) as exc:
            self._unread(docs, None, {"type": "bad_mget_response", "reason": str(exc)[:500]}, True, outcome)
            return [None] * len(docs)
        return [self._mget_item(doc, item, outcome) for doc, item in zip(docs, found, strict=True)]

    @staticmethod
    def _unread(docs: list[Doc], status: int | None, error: dict[str, Any], transient: bool, outcome: _Round) -> None:
        """Documents whose existing copy could not be read: retried (transient) or parked."""
        logger.warning("_mget answered %s (%s)%s", status, error.get("type"), "; will retry" if transient else "")
        error = {**error, "while": "reading back existing documents (_mget) after 409"}
        for doc in docs:
            doc.status, doc.error = status, error
        (outcome.retry if transient else outcome.failed).extend(docs)

    @staticmethod
    def _mget_item(doc: Doc, item: Any, outcome: _Round) -> dict[str, Any] | None:
        if not isinstance(item, dict):
            item = {"error": {"type": "bad_mget_response", "reason": f"{item!r:.200}"}}
        if "error" not in item:
            return item
        error = _error_of(item)
        if error.get("type") == "index_not_found_exception":
            return {"found": False}
        # A shard that cannot answer now: the document is sent again next round (attempts are
        # bounded), when its 409 leads here again.
        doc.status, doc.error = None, {**error, "while": "reading back the existing document (_mget) after 409"}
        outcome.retry.append(doc)
        return None


# --- parking failed documents -----------------------------------------------------------------


def _park(config: Config, lines: list[bytes], context: Any) -> str:
    """Write JSON lines to ``FAILED_BUCKET``; returns the s3:// location. Raises when it cannot
    (no bucket, S3 error), so that Lambda retries the invocation instead of losing data."""
    if not config.failed_bucket:
        raise RuntimeError(f"{len(lines)} documents could not be indexed and FAILED_BUCKET is not set")
    now = _dt.datetime.now(_UTC)
    request_id = getattr(context, "aws_request_id", None) or "local"
    key = f"{config.failed_prefix}{now:%Y/%m/%d/%H}/{request_id}-{uuid.uuid4().hex[:12]}.jsonl"
    put_failed_object(config.failed_bucket, key, b"".join(lines), config.region)
    return f"s3://{config.failed_bucket}/{key}"


def _failed_lines(docs: list[Doc], payload: dict[str, Any]) -> list[bytes]:
    failed_at = _dt.datetime.now(_UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    lines = []
    for doc in docs:
        meta = {
            "failed_at": failed_at,
            "index": doc.index,
            "_id": doc.id,
            "status": doc.status,
            "error": doc.error,
            "attempts": doc.attempts,
            "owner": payload.get("owner"),
            "log_group": payload.get("logGroup"),
            "log_stream": payload.get("logStream"),
        }
        head = json.dumps(meta, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        lines.append(head[:-1] + b',"document":' + doc.source + b"}\n")
    return lines


# --- entry point ------------------------------------------------------------------------------

#: At most this many "replaced document" lines per invocation; the rest are counted (and
#: OpenSearch counts them all: ``exists: @replaced_id``).
MAX_LOGGED_REPLACEMENTS = 100


_COUNTERS = ("indexed", "created", "replaced", "redelivered", "failed", "failed_parked", "skipped")


def _summary() -> dict[str, Any]:
    """The handler's result. ``indexed`` = documents OpenSearch holds after this invocation =
    ``created`` + ``replaced`` + ``redelivered``; ``failed`` could not be indexed (written to S3
    as ``failed_parked``, or the invocation raises)."""
    return {**dict.fromkeys(_COUNTERS, 0), "failed_location": None}


def _log_replacements(docs: list[Doc]) -> None:
    """One line per document that overwrote another record of the same ``_id``."""
    replaced = [doc for doc in docs if doc.outcome == "replaced"]
    for doc in replaced[:MAX_LOGGED_REPLACEMENTS]:
        old = REPLACED_UNKNOWN if doc.replaced_id is None else doc.replaced_id
        logger.warning(
            "logpipe: replaced document %s/%s (old @id %s, new @id %s): content differs",
            doc.index,
            doc.id,
            old,
            doc.event_id,
        )
    if len(replaced) > MAX_LOGGED_REPLACEMENTS:
        logger.warning(
            "logpipe: %d more replaced documents not logged (they carry %s)",
            len(replaced) - MAX_LOGGED_REPLACEMENTS,
            REPLACED_FIELD,
        )


def _park_undecodable(config: Config, event: Any, exc: Exception, context: Any, summary: dict[str, Any]) -> None:
    reason = f"{type(exc).__name__}: {exc}"
    logger.error("undecodable subscription event (%s); writing it to S3", reason)
    failed_at = _dt.datetime.now(_UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    line = {"failed_at": failed_at, "error": {"type": "undecodable_event", "reason": reason}, "event": event}
    body = json.dumps(line, ensure_ascii=False, default=repr, separators=(",", ":")).encode() + b"\n"
    summary["failed"] = 1
    summary["failed_location"] = _park(config, [body], context)
    summary["failed_parked"] = 1


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point for a CloudWatch Logs subscription filter."""
    config = Config.from_env()
    _credentials_cache.clear()
    summary = _summary()
    try:
        payload = decode_event(event)
    except (KeyError, TypeError, ValueError, OSError, EOFError, zlib.error) as exc:
        _park_undecodable(config, event, exc, context, summary)
        return summary

    if payload.get("messageType") == "CONTROL_MESSAGE":
        events = payload.get("logEvents")
        summary["skipped"] = len(events) if isinstance(events, list) else 0
        return summary

    docs = build_documents(payload, config.index_prefix, config.flat_object_mode)
    get_remaining = getattr(context, "get_remaining_time_in_millis", None)
    indexer = BulkIndexer(
        config,
        send=send_bulk,
        sign=sign_headers if config.auth == "sigv4" else None,
        remaining_ms=get_remaining if callable(get_remaining) else (lambda: None),
    )
    indexed, failed = indexer.run(docs)
    _log_replacements(indexed)
    summary["indexed"] = len(indexed)
    for doc in indexed:
        summary[doc.outcome or "created"] += 1
    summary["failed"] = len(failed)
    summary["requests"] = indexer.requests
    if failed:
        summary["failed_location"] = _park(config, _failed_lines(failed, payload), context)
        summary["failed_parked"] = len(failed)
        logger.warning("%d documents not indexed; written to %s", len(failed), summary["failed_location"])
    logger.info(
        "logpipe: indexed %d (created %d, replaced %d, redelivered %d), failed %d, parked %d",
        *(summary[key] for key in _COUNTERS[:-1]),
    )
    return summary
