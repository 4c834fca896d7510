"""Helpers shared by the Lambda tests: sample loading, event builders, an osmem client, a fake
Lambda context and a fault-injecting HTTP proxy."""

from __future__ import annotations

import base64
import gzip
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

#: ``shared/samples`` beside the repository (tests/lambdas → tests → repo → its parent).
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"


# --- samples and event builders ---------------------------------------------------------------


def cloudtrail_records(samples: Path) -> list[dict[str, Any]]:
    """Every CloudTrail record of the samples: cloudtrail_events.json (11), the S3 log file
    (4; its AssumeRole record is also #5 of the first file, same eventID) and the record carried
    inside the OTEL CloudWatch Logs payload (the same event as #7)."""
    records = json.loads((samples / "cloudtrail_events.json").read_text())
    records += json.loads((samples / "cloudtrail_s3_file_clo.json").read_text())["Records"]
    otel = json.loads((samples / "cwl_subscription_payload_cloudtrail_otel.json").read_text())
    records += [json.loads(event["message"]) for event in otel["logEvents"]]
    return records


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def cwl_payload(
    messages: list[str],
    *,
    timestamp: int = 1_700_000_000_000,
    group: str = "aws-cloudtrail-logs-demogo",
    stream: str = "111122223333_CloudTrail_us-east-1",
    owner: str = "111122223333",
) -> dict[str, Any]:
    """A DATA_MESSAGE payload as CloudWatch Logs builds it: 56-digit string ids, ms timestamps."""
    base = 36_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000
    return {
        "messageType": "DATA_MESSAGE",
        "owner": owner,
        "logGroup": group,
        "logStream": stream,
        "subscriptionFilters": ["demogo-cloudtrail"],
        "logEvents": [
            {"id": f"{base + i:056d}", "timestamp": timestamp + i, "message": message}
            for i, message in enumerate(messages)
        ],
    }


def cwl_event(payload: dict[str, Any]) -> dict[str, Any]:
    """``{"awslogs": {"data": base64(gzip(json))}}`` around a payload."""
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()}}


def firehose_event(datas: list[bytes]) -> dict[str, Any]:
    """A Firehose transformation event with one record per payload."""
    return {
        "invocationId": "00540a87-5050-496a-84e4-e7d92bbaf5e2",
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/demogo",
        "region": "us-east-1",
        "records": [
            {
                "recordId": f"49626154501644110739257545332878746850728803363251552258{i:06d}",
                "approximateArrivalTimestamp": 1643160814345,
                "data": base64.b64encode(data).decode(),
            }
            for i, data in enumerate(datas)
        ],
    }


def decoded(output_record: dict[str, Any]) -> bytes:
    return base64.b64decode(output_record["data"], validate=True)


def assert_contract(event: dict[str, Any], response: dict[str, Any]) -> None:
    """The Firehose response contract: one output per input, same ids and order, valid results,
    base64 data, ``Ok`` data is one JSON document + newline."""
    assert set(response) == {"records"}
    out = response["records"]
    assert [r["recordId"] for r in out] == [r["recordId"] for r in event["records"]]
    for rec in out:
        assert set(rec) == {"recordId", "result", "data"}
        assert rec["result"] in ("Ok", "Dropped", "ProcessingFailed")
        data = decoded(rec)
        if rec["result"] == "Ok":
            assert data.endswith(b"\n") and data.count(b"\n") == 1
            assert isinstance(json.loads(data), dict)
    assert len(json.dumps(response)) < 6_000_000


class FakeContext:
    """The two things the indexer uses of a Lambda context, with a real deadline."""

    aws_request_id = "5b5f8b8e-test-request"

    def __init__(self, remaining_ms: int = 60_000) -> None:
        self.deadline = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


# --- OpenSearch (osmem) -----------------------------------------------------------------------


@dataclass
class Search:
    """A few data-plane calls against an osmem clone."""

    url: str

    def request(self, method: str, path: str, body: Any = None, ndjson: bytes | None = None) -> tuple[int, Any]:
        data = ndjson if ndjson is not None else (None if body is None else json.dumps(body).encode())
        ctype = "application/x-ndjson" if ndjson is not None else "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={"Content-Type": ctype})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            with exc:
                text = exc.read()
            return exc.code, json.loads(text) if text.startswith(b"{") else text.decode()

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, result = self.request(method, path, body)
        assert 200 <= status < 300, (status, result)
        return result

    def bulk_index(self, index: str, docs: list[bytes] | list[dict[str, Any]]) -> dict[str, Any]:
        """Index documents (raw JSON bytes or dicts) with auto ids; returns the bulk response."""
        lines = []
        for doc in docs:
            lines.append(json.dumps({"index": {"_index": index}}).encode())
            lines.append(doc.rstrip(b"\n") if isinstance(doc, bytes) else json.dumps(doc).encode())
        status, result = self.request("POST", "/_bulk", ndjson=b"\n".join(lines) + b"\n")
        assert status == 200, result
        return result

    def refresh(self) -> None:
        self.ok("POST", "/_refresh")

    def count(self, index: str) -> int:
        self.refresh()
        return self.ok("GET", f"/{index}/_count")["count"]

    def indices(self, pattern: str = "*") -> dict[str, int]:
        self.refresh()
        rows = self.ok("GET", f"/_cat/indices/{pattern}?format=json")
        return {row["index"]: int(row["docs.count"]) for row in rows if not row["index"].startswith(".")}

    def field_mapping(self, index: str, path: str) -> dict[str, Any] | None:
        mapping = self.ok("GET", f"/{index}/_mapping")
        node: Any = {"properties": next(iter(mapping.values()))["mappings"]["properties"]}
        for part in path.split("."):
            node = node.get("properties", {}).get(part)
            if node is None:
                return None
        return node

    def field_type(self, index: str, path: str) -> str | None:
        node = self.field_mapping(index, path)
        return None if node is None else node.get("type", "object")

    def search(self, index: str, query: dict[str, Any], size: int = 100) -> list[dict[str, Any]]:
        self.refresh()
        return self.ok("POST", f"/{index}/_search", {"query": query, "size": size})["hits"]["hits"]


def bulk_errors(response: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for item in response["items"] for op in item.values() if "error" in op]


# --- fault-injecting proxy --------------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0

    @property
    def is_bulk(self) -> bool:
        return self.path.split("?")[0].endswith("/_bulk")

    def bulk_ids(self) -> list[str]:
        return [action["_id"] for _, action in self.bulk_actions()]

    def bulk_actions(self) -> list[tuple[str, dict[str, Any]]]:
        """(op, metadata) of each document of a ``_bulk`` body."""
        lines = [line for line in self.body.split(b"\n") if line]
        return [next(iter(json.loads(line).items())) for line in lines[0::2]]


@dataclass
class FaultProxy:
    """Forwards to ``upstream``; ``script`` entries are consumed one per request (``_mget``
    requests consume ``mget_script`` instead, so a script aimed at ``_bulk`` keeps its order):

    * ``"forward"``: pass through;
    * ``("status", code)``: answer ``code`` with an OpenSearch-style error body;
    * ``("drop",)``: close the connection without answering;
    * ``("reject_items", n, status, type)``: forward, then report the first ``n`` items as
      failed with ``status``/``type`` (they were indexed upstream anyway: a retry re-indexes
      them under the same ``_id``).
    * ``("fail_items", {position: (status, type)})``: forward the ``_bulk`` body without the
      documents at those positions, and answer those with ``status``/``type`` (they were not
      written, as with a real per-item 429).

    ``max_body`` answers 413 to any body larger than it. Requests are recorded in ``requests``.
    """

    upstream: str
    script: list[Any] = field(default_factory=list)
    mget_script: list[Any] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    max_body: int | None = None
    url: str = ""

    def next_action(self, path: str) -> Any:
        script = self.mget_script if path.split("?")[0].endswith("/_mget") else self.script
        return script.pop(0) if script else "forward"

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            recorded: Recorded

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: bytes) -> None:
                self.recorded.status = status  # before answering: the client may look at once
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.recorded = Recorded(self.command, self.path, dict(self.headers.items()), body)
                proxy.requests.append(self.recorded)
                if proxy.max_body is not None and len(body) > proxy.max_body:
                    self._answer(413, b'{"error":{"type":"content_too_long","reason":"too big"},"status":413}')
                    return
                action = proxy.next_action(self.path)
                if action == ("drop",):
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if isinstance(action, tuple) and action[0] == "status":
                    code = action[1]
                    err = {"error": {"type": f"injected_{code}", "reason": "injected by FaultProxy"}, "status": code}
                    self._answer(code, json.dumps(err).encode())
                    return
                failing: dict[int, tuple[int, str]] = {}
                if isinstance(action, tuple) and action[0] == "fail_items":
                    failing = action[1]
                    body = _without_documents(body, set(failing))
                headers = {"Content-Type": self.headers.get("Content-Type", "application/json")}
                req = urllib.request.Request(
                    proxy.upstream + self.path, data=body or None, method=self.command, headers=headers
                )
                try:
                    with urllib.request.urlopen(req, timeout=30) as resp:
                        status, out = resp.status, resp.read()
                except urllib.error.HTTPError as exc:
                    with exc:
                        status, out = exc.code, exc.read()
                if isinstance(action, tuple) and action[0] == "reject_items":
                    _, count, code, etype = action
                    parsed = json.loads(out)
                    for item in parsed["items"][:count]:
                        op = next(iter(item.values()))
                        op["status"] = code
                        op["error"] = {"type": etype, "reason": "injected by FaultProxy"}
                    parsed["errors"] = True
                    out = json.dumps(parsed).encode()
                if failing:
                    out = json.dumps(_with_failed_items(json.loads(out), failing)).encode()
                self._answer(status, out)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        return Handler


def _without_documents(body: bytes, positions: set[int]) -> bytes:
    lines = [line for line in body.split(b"\n") if line]
    pairs = [lines[i : i + 2] for i in range(0, len(lines), 2)]
    kept = [line for n, pair in enumerate(pairs) if n not in positions for line in pair]
    return b"\n".join(kept) + b"\n" if kept else b""


def _with_failed_items(answer: dict[str, Any], failing: dict[int, tuple[int, str]]) -> dict[str, Any]:
    """Put injected per-item failures back at their positions among the forwarded answers."""
    forwarded = iter(answer.get("items", []))
    total = len(answer.get("items", [])) + len(failing)
    items = []
    for n in range(total):
        if n in failing:
            status, etype = failing[n]
            items.append({"create": {"status": status, "error": {"type": etype, "reason": "injected by FaultProxy"}}})
        else:
            items.append(next(forwarded))
    return {**answer, "errors": True, "items": items}
