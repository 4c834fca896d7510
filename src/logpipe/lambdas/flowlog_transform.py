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
from collections.abc import Callable
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
# Fast-path groups: a string value needing no JSON escaping ("-" included: it is dropped after
# the match); a canonical unsigned integer (no sign, no leading zero) or "-".
_FAST_STR = r'([^\s"\\\x00-\x1f]+)'
_FAST_INT = r"(0|[1-9][0-9]*|-)"
_NEEDS_JSON_PARSE = re.compile(r'["\\\x00-\x1f]')
_MESSAGE_PREFIXES = ('{"message":"', '{"message": "')

_DECODE = json.JSONDecoder().decode
# Epoch-second token → ISO text: the records of a batch share their capture windows.
_TOKEN_ISO: dict[str, str] = {}


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
        # Fast path for ordinary lines (nothing needing a JSON escape, canonical numbers): one
        # regex splits the line and validates the field count and the digits of every numeric
        # field in C, and the JSON is assembled from per-field templates. Anything else falls
        # back to parse_line, the reference (a test holds the two to the same output).
        groups = []
        parts = []
        for name, kind in self.spec:
            groups.append(_FAST_STR if kind == _STR else _FAST_INT)
            parts.append(f'"{name}":%s' if kind == _INT else f'"{name}":"%s"')
        self.fast_re = re.compile(r"\s+".join(groups))
        self.fast_parts: tuple[str, ...] = tuple(parts)
        self.fast_template = "{" + ",".join(parts) + "}\n"
        self.time_groups: tuple[int, ...] = tuple(i for i, (_, kind) in enumerate(self.spec) if kind == _TIME)
        # Only a line whose first field may be any word can be a header that matches the regex.
        self.check_header = self.spec[0][1] == _STR

    def to_json(self, line: str) -> bytes:
        """One flow log line → output document bytes (JSON + newline); the same result as
        ``dumps_doc(parse_line(line))``, faster."""
        match = self.fast_re.fullmatch(line)
        if match is None or (self.check_header and match.group(1) in self.header_words):
            return _firehose.dumps_doc(self.parse_line(line))
        values = list(match.groups())
        for i in self.time_groups:
            token = values[i]
            if token != "-":
                iso = _TOKEN_ISO.get(token)
                if iso is None:
                    iso = _firehose.epoch_seconds_to_iso(int(token))
                    if len(_TOKEN_ISO) >= 65_536:
                        _TOKEN_ISO.clear()
                    _TOKEN_ISO[token] = iso
                values[i] = iso
        if "-" not in values:
            return (self.fast_template % tuple(values)).encode("utf-8")
        # NODATA / SKIPDATA and other lines with "no value" fields: leave those fields out.
        body = ",".join([part % value for part, value in zip(self.fast_parts, values, strict=True) if value != "-"])
        return ("{" + body + "}\n").encode("utf-8")

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


def make_transform(fmt: LogFormat) -> Callable[[bytes], bytes]:
    """The per-record transform for one log format."""
    to_json = fmt.to_json

    def transform(payload: bytes) -> bytes:
        return to_json(extract_line(payload))

    return transform


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Firehose data-transformation entry point."""
    return _firehose.process(event, make_transform(log_format()), "flowlog_transform")
