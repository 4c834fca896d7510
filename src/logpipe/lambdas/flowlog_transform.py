"""Firehose transform for VPC Flow Logs: one space-separated line → one typed JSON document.

VPC Flow Logs publishing straight to Firehose sends one flow record per Firehose record, as
``{"message": "<line>"}``; a bare line (no JSON wrapper) is accepted too. The line is split on
any run of whitespace (one AWS doc sample has a double space) and matched against the flow
log's format.

Environment (read on every call):

* ``LOG_FORMAT`` — the flow log's format in AWS syntax, ``${version} ${account-id} ...``;
  default: the version 2 default format (:data:`DEFAULT_LOG_FORMAT`). It must name the fields
  in the order the flow log was created with; a malformed value raises (a configuration error,
  not bad data: Firehose retries and then parks the batch, nothing is lost).

Output document (field names are the AWS names, hyphens kept: ``account-id``,
``interface-id``, ``log-status``, ``pkt-srcaddr`` ...; the index pattern's time field is
``start``):

* numeric fields per the AWS field table (Parquet INT_32/INT_64: ``version``, ``srcport``,
  ``dstport``, ``protocol``, ``packets``, ``bytes``, ``tcp-flags``, ``traffic-path``,
  ``encryption-status``) become JSON numbers;
* ``start`` and ``end`` (epoch seconds) become ISO 8601 UTC, ``2014-12-14T04:06:50Z``;
* ``-`` ("no value") leaves the field out rather than storing a string in a number or IP field;
* every other field stays a string; fields unknown to this module are kept as strings.

Per record: NODATA / SKIPDATA lines are kept (with their ``log-status``); a header line of
field names (as at the top of S3 flow log files) is ``Dropped``; a line whose field count does
not match the format, a non-numeric value in a numeric field, an empty record, a record with
more than one line (Firehose → OpenSearch indexes one document per record) or a gzip'd
CloudWatch Logs payload is ``ProcessingFailed``.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

try:
    from . import _firehose
except ImportError:  # deployed: the zip root holds this module and _firehose.py side by side
    import _firehose  # type: ignore[no-redef]

DEFAULT_LOG_FORMAT = (
    "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} "
    "${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"
)

#: Integer fields of the AWS field table (Parquet INT_32 / INT_64), except the two times.
NUMERIC_FIELDS = frozenset(
    {
        "version",
        "srcport",
        "dstport",
        "protocol",
        "packets",
        "bytes",
        "tcp-flags",
        "traffic-path",
        "encryption-status",
    }
)
#: Epoch-second fields, written as ISO 8601.
TIME_FIELDS = frozenset({"start", "end"})

#: Every field name of the AWS field table (versions 2-8 and later additions); a line made only
#: of these words is a header line.
KNOWN_FIELDS = frozenset(
    {
        "version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport",
        "protocol", "packets", "bytes", "start", "end", "action", "log-status",
        "vpc-id", "subnet-id", "instance-id", "tcp-flags", "type", "pkt-srcaddr", "pkt-dstaddr",
        "region", "az-id", "sublocation-type", "sublocation-id",
        "pkt-src-aws-service", "pkt-dst-aws-service", "flow-direction", "traffic-path",
        "ecs-cluster-arn", "ecs-cluster-name", "ecs-container-instance-arn",
        "ecs-container-instance-id", "ecs-container-id", "ecs-second-container-id",
        "ecs-service-name", "ecs-task-definition-arn", "ecs-task-arn", "ecs-task-id",
        "reject-reason", "encryption-status",
    }
)  # fmt: skip

_STR, _INT, _TIME = 0, 1, 2
_FIELD_RE = re.compile(r"\$\{([A-Za-z0-9_-]+)\}")
_FORMAT_RE = re.compile(r"\s*(?:\$\{[A-Za-z0-9_-]+\}\s*)+")
_GZIP_MAGIC = b"\x1f\x8b"
# Fast-path groups, on the record's bytes: a string value of printable ASCII needing no JSON
# escaping ("-" included: it is dropped after the match); a canonical unsigned integer (no sign,
# no leading zero) or "-". Anything else (non-ASCII, escapes, odd whitespace) takes the
# reference path, so these classes only need to be a safe subset, not complete.
_FAST_STR = rb"([\x21\x23-\x5b\x5d-\x7e]+)"
_FAST_INT = rb"(0|[1-9][0-9]*|-)"
# Around a record: only the ASCII whitespace that both str.strip and JSON accept.
_FAST_PAD = rb"[ \t\n\r]*"
_NEEDS_JSON_PARSE = re.compile(r'["\\\x00-\x1f]')
_MESSAGE_PREFIXES = ('{"message":"', '{"message": "')

_DECODE = json.JSONDecoder().decode


class _IsoCache(dict):
    """Epoch-second token (bytes) → ISO 8601 bytes; ``-`` maps to itself. The records of a batch
    share their capture windows, so a hit (a plain C dict lookup) is the common case."""

    def __missing__(self, token: bytes) -> bytes:
        if len(self) >= 65_536:
            self.clear()
            self[b"-"] = b"-"
        iso = self[token] = _firehose.epoch_seconds_to_iso(int(token)).encode("ascii")
        return iso


_TOKEN_ISO = _IsoCache({b"-": b"-"})


class LogFormat:
    """A parsed ``LOG_FORMAT``: the field names in order with how to convert each."""

    def __init__(self, log_format: str) -> None:
        if not _FORMAT_RE.fullmatch(log_format):
            raise ValueError(f"LOG_FORMAT is not a list of ${{field}} names: {log_format!r}")
        self.names: tuple[str, ...] = tuple(_FIELD_RE.findall(log_format))
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"LOG_FORMAT names a field twice: {log_format!r}")
        self.spec: tuple[tuple[str, int], ...] = tuple(
            (name, _TIME if name in TIME_FIELDS else _INT if name in NUMERIC_FIELDS else _STR) for name in self.names
        )
        self.header_words = KNOWN_FIELDS | set(self.names)
        self._compile_fast_path()

    def _compile_fast_path(self) -> None:
        """Compiled once per format (formats are cached): for an ordinary record, one regex on
        the raw bytes unwraps ``{"message": ...}``, splits the line and checks the field count
        and the digits of every numeric field in C, and the JSON is assembled from a template
        with one slot per field. Anything the regex does not take goes through
        :meth:`reference`; a test holds the two to the same output."""
        groups = []
        parts = []
        for name, kind in self.spec:
            groups.append(_FAST_STR if kind == _STR else _FAST_INT)
            parts.append(f'"{name}":%s' if kind == _INT else f'"{name}":"%s"')
        # No "{" first on a bare line: such a record is JSON (or broken JSON), never a line.
        self._bare = re.compile(_FAST_PAD + rb"(?!\{)" + rb"[ \t]+".join(groups) + _FAST_PAD).fullmatch
        inner = rb" +".join(groups)
        self._wrapped = re.compile(_FAST_PAD + rb'\{"message": ?" *' + inner + rb' *"\}' + _FAST_PAD).fullmatch
        self._parts: tuple[bytes, ...] = tuple(part.encode() for part in parts)
        self._template = ("{" + ",".join(parts) + "}\n").encode()
        self._time_groups: tuple[int, ...] = tuple(i for i, (_, kind) in enumerate(self.spec) if kind == _TIME)
        # Only a line whose first field may be any word can be a header that matches the regex.
        self._header_bytes = frozenset(word.encode() for word in self.header_words) if self.spec[0][1] == _STR else None

    def to_json(self, payload: bytes) -> bytes:
        """One Firehose record (``{"message": "<line>"}`` or the bare line) → output document
        bytes (JSON + newline); the same result as :meth:`reference`, faster."""
        match = self._wrapped(payload) or self._bare(payload)
        if match is None:
            return self.reference(payload)
        values = list(match.groups())
        if self._header_bytes is not None and values[0] in self._header_bytes:
            return self.reference(payload)
        iso = _TOKEN_ISO
        for i in self._time_groups:
            values[i] = iso[values[i]]
        if b"-" not in values:
            return self._template % tuple(values)
        # NODATA / SKIPDATA and other lines with "no value" fields: leave those fields out.
        body = b",".join([part % value for part, value in zip(self._parts, values, strict=True) if value != b"-"])
        return b"{" + body + b"}\n"

    def reference(self, payload: bytes) -> bytes:
        """The plain implementation :meth:`to_json` must equal: extract, split, convert, dump."""
        return _firehose.dumps_doc(self.parse_line(extract_line(payload)))

    def parse_line(self, line: str) -> dict[str, Any]:
        """One flow log line → document; raises ``_firehose.Drop`` for a header line and
        ``ValueError`` for a line that does not fit the format."""
        tokens = line.split()
        if not tokens:
            raise ValueError("empty flow log record")
        words = self.header_words
        if tokens[0] in words and all(tok in words for tok in tokens):
            raise _firehose.Drop
        if len(tokens) != len(self.spec):
            raise ValueError(f"{len(tokens)} fields where the log format has {len(self.spec)}")
        doc: dict[str, Any] = {}
        to_iso = _firehose.epoch_seconds_to_iso
        for (name, kind), tok in zip(self.spec, tokens, strict=True):
            if tok == "-":
                continue
            if kind == _STR:
                doc[name] = tok
            elif kind == _INT:
                doc[name] = _int(name, tok)
            else:
                doc[name] = to_iso(_int(name, tok))
        return doc


def _int(name: str, tok: str) -> int:
    if not (tok.isascii() and tok.isdigit()):
        raise ValueError(f"field {name} is not a number: {tok[:40]!r}")
    return int(tok)


_FORMATS: dict[str, LogFormat] = {}


def log_format() -> LogFormat:
    """The parsed ``LOG_FORMAT`` of the environment (parsed once per distinct value)."""
    text = os.environ.get("LOG_FORMAT", "").strip() or DEFAULT_LOG_FORMAT
    fmt = _FORMATS.get(text)
    if fmt is None:
        fmt = _FORMATS[text] = LogFormat(text)
    return fmt


def extract_line(payload: bytes) -> str:
    """The flow log line carried by one Firehose record (``{"message": ...}`` or bare text)."""
    if payload[:2] == _GZIP_MAGIC:
        raise ValueError("gzip'd CloudWatch Logs payload: send flow logs to Firehose directly")
    text = payload.decode("utf-8").strip()
    if text.startswith(_MESSAGE_PREFIXES) and text.endswith('"}'):
        # VPC Flow Logs' own wrapper around an escape-free line: no JSON parse needed.
        inner = text[text.index('"', 11) + 1 : -2]
        if _NEEDS_JSON_PARSE.search(inner) is None:  # so no "\n" or "\r" either
            return inner.strip()
    if text[:1] == "{":
        obj = _DECODE(text)
        message = obj.get("message") if type(obj) is dict else None
        if type(message) is not str:
            raise ValueError('JSON record without a string "message"')
        text = message.strip()
    if "\n" in text or "\r" in text:
        raise ValueError("more than one line in one record")
    return text


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Firehose data-transformation entry point."""
    return _firehose.process(event, log_format().to_json, "flowlog_transform")
