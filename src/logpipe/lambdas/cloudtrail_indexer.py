"""CloudWatch Logs subscription → OpenSearch ``_bulk`` indexer for CloudTrail records.

Replaces the Node.js "LogsToElasticsearch" function the console creates for an OpenSearch
subscription filter, keeping its document shape (``@id``, ``@timestamp``, ``@message``,
``@owner``, ``@log_group``, ``@log_stream`` beside the parsed record) and fixing what makes it
lose or duplicate data:

* **Stable ``_id``**: the CloudTrail ``eventID`` (else the log event ``id``, else a hash of the
  log event), and the index is picked from the record's own ``eventTime`` (UTC day), so a
  redelivered batch overwrites the same documents instead of adding copies.
* **No mapping conflicts**: ``requestParameters``, ``responseElements``,
  ``additionalEventData``, ``serviceEventDetails``, ``insightDetails`` and
  ``userIdentity.sessionContext.webIdFederationData`` change shape from API to API; the
  ``logpipe-cloudtrail`` template maps them as ``flat_object``. flat_object takes only objects,
  so a value of another kind (a string, a list, ``true``) is wrapped as ``{"_value": value}``;
  ``null`` stays ``null``. ``eventTime`` and every other field are left exactly as CloudTrail
  wrote them (``@message`` keeps the raw record anyway).
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

Standard library only, plus botocore / boto3 from the Lambda runtime (imported lazily: only
when signing or writing to S3). Sending, signing and parking are the module-level functions
:func:`send_bulk`, :func:`sign_headers` and :func:`put_failed_object`, looked up at call time so
tests can replace them.
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

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

#: Mirrors ``logpipe.opensearch.templates.CLOUDTRAIL_FLAT_OBJECT_FIELDS`` (a test keeps them
#: equal; this module cannot import the package: it ships alone).
FLAT_OBJECT_FIELDS: tuple[tuple[str, ...], ...] = (
    ("requestParameters",),
    ("responseElements",),
    ("additionalEventData",),
    ("serviceEventDetails",),
    ("insightDetails",),
    ("userIdentity", "sessionContext", "webIdFederationData"),
)
FLAT_WRAP_KEY = "_value"

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
        )


# --- decoding and documents -------------------------------------------------------------------


def decode_event(event: Any) -> dict[str, Any]:
    """``{"awslogs": {"data": base64(gzip(json))}}`` → the subscription payload."""
    data = event["awslogs"]["data"]
    if not isinstance(data, str):
        raise TypeError("awslogs.data is not a string")
    payload = json.loads(gzip.decompress(binascii.a2b_base64(data, strict_mode=True)))
    if not isinstance(payload, dict):
        raise ValueError("subscription payload is not a JSON object")
    return payload


_EPOCH = _dt.date(1970, 1, 1)
_UTC = _dt.UTC


def epoch_millis_to_iso(ms: int) -> str:
    """Epoch ms → ``YYYY-MM-DDTHH:MM:SS.mmmZ``, like JavaScript's ``toISOString`` (exact)."""
    day, rem = divmod(ms, 86_400_000)
    hour, rem = divmod(rem, 3_600_000)
    minute, rem = divmod(rem, 60_000)
    sec, milli = divmod(rem, 1000)
    return f"{(_EPOCH + _dt.timedelta(days=day)).isoformat()}T{hour:02d}:{minute:02d}:{sec:02d}.{milli:03d}Z"


def _millis_day(ms: int) -> str:
    return (_EPOCH + _dt.timedelta(days=ms // 86_400_000)).strftime("%Y.%m.%d")


_EVENT_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?")


def event_day(event_time: Any) -> str | None:
    """UTC ``YYYY.MM.DD`` of a CloudTrail ``eventTime``, or None when it is not ISO 8601."""
    if not isinstance(event_time, str) or _EVENT_TIME_RE.fullmatch(event_time) is None:
        return None
    try:
        moment = _dt.datetime.fromisoformat(event_time)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(_UTC)
    return moment.strftime("%Y.%m.%d")


def _wrap_flat_objects(record: dict[str, Any]) -> None:
    """Make every flat_object field an object or null (flat_object rejects anything else)."""
    for path in FLAT_OBJECT_FIELDS:
        parent: Any = record
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if not isinstance(parent, dict):
            continue
        leaf = path[-1]
        if leaf in parent:
            value = parent[leaf]
            if value is not None and not isinstance(value, dict):
                parent[leaf] = {FLAT_WRAP_KEY: value}


@dataclass(slots=True)
class Doc:
    """One document on its way to OpenSearch, with what happened to it so far."""

    index: str
    id: str
    source: bytes
    action: bytes = b""
    attempts: int = 0
    status: int | None = None
    error: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.action:
            self.action = json.dumps({"index": {"_index": self.index, "_id": self.id}}, separators=(",", ":")).encode()

    @property
    def size(self) -> int:
        """Bytes this document adds to a ``_bulk`` body (action line, source line, newlines)."""
        return len(self.action) + len(self.source) + 2


def build_documents(payload: dict[str, Any], index_prefix: str) -> list[Doc]:
    """Turn a DATA_MESSAGE payload into documents (one per log event, none dropped)."""
    owner = payload.get("owner")
    group = payload.get("logGroup")
    stream = payload.get("logStream")
    events = payload.get("logEvents")
    docs: list[Doc] = []
    if not isinstance(events, list):
        return docs
    for event in events:
        if not isinstance(event, dict):
            event = {"message": json.dumps(event)}
        message = event.get("message")
        if not isinstance(message, str):
            message = "" if message is None else json.dumps(message)
        stamp = event.get("timestamp")
        if isinstance(stamp, bool) or not isinstance(stamp, int):
            stamp = int(time.time() * 1000)
        event_id = event.get("id")

        record: Any = None
        if message.lstrip()[:1] == "{":
            try:
                record = json.loads(message)
            except ValueError:
                record = None
        if isinstance(record, dict):
            source = record
            _wrap_flat_objects(source)
            day = event_day(source.get("eventTime")) or _millis_day(stamp)
            doc_id = source.get("eventID")
        else:
            source = {}
            day = _millis_day(stamp)
            doc_id = None
        if not isinstance(doc_id, str) or not doc_id or len(doc_id.encode()) > 512:
            doc_id = event_id if isinstance(event_id, str) and event_id else None
        if doc_id is None:
            digest = hashlib.sha256(f"{group}\n{stream}\n{stamp}\n{message}".encode()).hexdigest()
            doc_id = f"h-{digest[:40]}"
        source["@id"] = event_id
        source["@timestamp"] = epoch_millis_to_iso(stamp)
        source["@message"] = message
        source["@owner"] = owner
        source["@log_group"] = group
        source["@log_stream"] = stream
        body = json.dumps(source, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        docs.append(Doc(index=f"{index_prefix}-{day}", id=doc_id, source=body))
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
    docs = build_documents(payload, config.index_prefix)
    return [bulk_body(chunk) for chunk in chunk_documents(docs, config.max_bulk_bytes)]


# --- transport --------------------------------------------------------------------------------


def send_bulk(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
    """POST one ``_bulk`` body; returns (HTTP status, response body), status 0 for a transport
    error (connection refused, timeout, reset) with the error text as body."""
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
class BulkIndexer:
    """Sends documents with ``_bulk``, retrying what is transient, within the time left.

    ``remaining_ms`` returns the function's remaining time (``None`` = unbounded, attempts
    still bounded by ``max_attempts``). ``send``/``sign``/``sleep``/``rand`` are injectable.
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
        """Index ``docs``; returns (indexed, failed). Failed documents carry status/error."""
        indexed: list[Doc] = []
        failed: list[Doc] = []
        cfg = self.config
        problem = None
        if not cfg.endpoint:
            problem = {"type": "config_error", "reason": "OPENSEARCH_ENDPOINT is not set"}
        elif cfg.auth == "sigv4" and not cfg.region:
            problem = {"type": "config_error", "reason": "no AWS_REGION to sign requests with"}
        if problem:
            for doc in docs:
                doc.error = problem
            return indexed, list(docs)
        # filter_path: only what is read back, not megabytes of per-item metadata.
        url = f"{cfg.endpoint}/_bulk?filter_path=errors,items.*.status,items.*.error"
        pending = list(docs)
        attempt = 0
        delay = 0.0
        while pending:
            attempt += 1
            retry: list[Doc] = []
            queue = list(chunk_documents(pending, cfg.max_bulk_bytes))
            while queue:
                chunk = queue.pop(0)
                left = self._time_left()
                if left < MIN_REQUEST_MS:
                    for doc in [d for c in [chunk, *queue] for d in c]:
                        # Keep the last real error, if any, and say why there was no retry.
                        base = doc.error or {"type": "time_exhausted", "reason": "no time left to send"}
                        doc.error = {**base, "gave_up": f"no time left for attempt {attempt}"}
                        failed.append(doc)
                    queue = []
                    break
                outcome = self._send_chunk(url, chunk, min(cfg.http_timeout_s, left / 1000))
                if outcome is None:  # 413: split and resend now, not an attempt
                    half = len(chunk) // 2
                    queue[:0] = [chunk[:half], chunk[half:]]
                    continue
                ok, transient, permanent = outcome
                indexed.extend(ok)
                failed.extend(permanent)
                retry.extend(transient)
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

    def _send_chunk(self, url: str, chunk: list[Doc], timeout: float) -> tuple[list[Doc], list[Doc], list[Doc]] | None:
        body = bulk_body(chunk)
        headers = {"Content-Type": "application/x-ndjson"}
        for doc in chunk:
            doc.attempts += 1
        try:
            if self.sign is not None and self.config.auth == "sigv4":
                headers = self.sign(url, body, headers, self.config.region or "")
        except Exception as exc:  # no credentials, botocore missing: will not fix itself
            error = {"type": "signing_error", "reason": f"{type(exc).__name__}: {exc}"}
            for doc in chunk:
                doc.status, doc.error = None, error
            return [], [], chunk
        self.requests += 1
        status, response = self.send(url, body, headers, timeout)
        if status == 413 and len(chunk) > 1:
            for doc in chunk:
                doc.attempts -= 1
            return None
        if not 200 <= status < 300:
            error = _request_error(status, response)
            for doc in chunk:
                doc.status, doc.error = status, error
            if _is_transient(status, None):
                logger.warning("_bulk answered %s (%s); will retry", status, error.get("type"))
                return [], chunk, []
            logger.warning("_bulk answered %s (%s): %d documents rejected", status, error, len(chunk))
            return [], [], chunk
        try:
            parsed = json.loads(response)
            items = parsed["items"]
            if not isinstance(items, list) or len(items) != len(chunk):
                raise ValueError(f"{len(items)} items for {len(chunk)} documents")
        except (ValueError, KeyError, TypeError) as exc:
            error = {"type": "bad_bulk_response", "reason": str(exc)[:500]}
            for doc in chunk:
                doc.status, doc.error = None, error
            return [], chunk, []
        if not parsed.get("errors"):
            for doc in chunk:
                doc.status, doc.error = 200, None
            return chunk, [], []
        ok: list[Doc] = []
        transient: list[Doc] = []
        permanent: list[Doc] = []
        for doc, item in zip(chunk, items, strict=True):
            result = next(iter(item.values()), {}) if isinstance(item, dict) and item else {}
            status_i = result.get("status") if isinstance(result, dict) else None
            if isinstance(status_i, int) and 200 <= status_i < 300:
                doc.status, doc.error = status_i, None
                ok.append(doc)
                continue
            doc.status = status_i if isinstance(status_i, int) else None
            doc.error = _error_of(result if isinstance(result, dict) else {})
            (transient if _is_transient(doc.status, doc.error) else permanent).append(doc)
        if permanent:
            logger.warning("%d documents rejected, e.g. %s: %s", len(permanent), permanent[0].id, permanent[0].error)
        return ok, transient, permanent


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


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point for a CloudWatch Logs subscription filter."""
    config = Config.from_env()
    _credentials_cache.clear()
    summary: dict[str, Any] = {"indexed": 0, "failed_parked": 0, "skipped": 0, "failed_location": None}
    try:
        payload = decode_event(event)
    except (KeyError, TypeError, ValueError, OSError, EOFError, zlib.error) as exc:
        reason = f"{type(exc).__name__}: {exc}"
        logger.error("undecodable subscription event (%s); writing it to S3", reason)
        failed_at = _dt.datetime.now(_UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        line = {"failed_at": failed_at, "error": {"type": "undecodable_event", "reason": reason}, "event": event}
        body = json.dumps(line, ensure_ascii=False, default=repr, separators=(",", ":")).encode() + b"\n"
        summary["failed_location"] = _park(config, [body], context)
        summary["failed_parked"] = 1
        return summary

    if payload.get("messageType") == "CONTROL_MESSAGE":
        events = payload.get("logEvents")
        summary["skipped"] = len(events) if isinstance(events, list) else 0
        return summary

    docs = build_documents(payload, config.index_prefix)
    get_remaining = getattr(context, "get_remaining_time_in_millis", None)
    indexer = BulkIndexer(
        config,
        send=send_bulk,
        sign=sign_headers if config.auth == "sigv4" else None,
        remaining_ms=get_remaining if callable(get_remaining) else (lambda: None),
    )
    indexed, failed = indexer.run(docs)
    summary["indexed"] = len(indexed)
    summary["requests"] = indexer.requests
    if failed:
        summary["failed_location"] = _park(config, _failed_lines(failed, payload), context)
        summary["failed_parked"] = len(failed)
        logger.warning("%d documents not indexed; written to %s", len(failed), summary["failed_location"])
    logger.info("indexed %d, parked %d", summary["indexed"], summary["failed_parked"])
    return summary
