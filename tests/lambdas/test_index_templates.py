"""Index templates: their shape, and every transformed sample indexed into osmem through them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from logpipe.lambdas import flowlog_transform, securityhub_transform, waf_transform
from logpipe.opensearch.mappings import PRIORITY
from tests.support import index_templates

from .support import Search, bulk_errors, decoded, firehose_event, jsonl
from .test_flowlog_transform import V3_FORMAT, V5_FORMAT
from .test_securityhub_transform import envelope

EXPECTED = {
    "logpipe-cloudtrail": ("cwl-*", "eventTime", "strict_date_optional_time||epoch_millis"),
    "logpipe-dns": ("dns-log-*", "query_timestamp", "strict_date_optional_time||epoch_millis"),
    "logpipe-waf": ("waf-log-*", "timestamp", "strict_date_optional_time||epoch_millis"),
    "logpipe-flowlog": ("vpc-flowlog-*", "start", "strict_date_optional_time||epoch_second"),
    "logpipe-securityhub": ("aws-securityhub-findings-logs*", "CreatedAt", "strict_date_optional_time||epoch_millis"),
}


def test_template_shapes() -> None:
    bodies = index_templates()
    assert set(bodies) == set(EXPECTED)
    for name, body in bodies.items():
        pattern, time_field, fmt = EXPECTED[name]
        assert body["index_patterns"] == [pattern]
        assert body["_meta"]["managed-by"] == "logpipe"
        assert isinstance(body["priority"], int) and body["priority"] > 0
        mappings = body["template"]["mappings"]
        assert mappings["date_detection"] is False
        assert mappings["properties"][time_field] == {"type": "date", "format": fmt}
        (dyn,) = mappings["dynamic_templates"]
        assert next(iter(dyn.values()))["mapping"]["type"] == "keyword"
        # Shards and replicas belong to the domain.
        settings = body["template"].get("settings", {})
        assert not any("replica" in key or "shard" in key for key in json.dumps(settings).split('"'))
    sh = bodies["logpipe-securityhub"]["template"]["mappings"]["properties"]
    assert sh["UpdatedAt"]["type"] == "date"
    assert sh["ProductFields"] == {"type": "flat_object"}
    assert sh["Resources"]["properties"]["Details"] == {"type": "flat_object"}
    ct = bodies["logpipe-cloudtrail"]["template"]["mappings"]["properties"]
    assert ct["sourceIPAddress"]["type"] == "keyword"
    assert ct["userIdentity"]["properties"]["sessionContext"]["properties"]["webIdFederationData"] == {
        "type": "flat_object"
    }


def test_fresh_copies() -> None:
    first = index_templates()
    first["logpipe-waf"]["priority"] = -1
    first["logpipe-waf"]["template"]["mappings"]["properties"]["timestamp"]["type"] = "long"
    again = index_templates()["logpipe-waf"]
    assert again["priority"] == PRIORITY
    assert again["template"]["mappings"]["properties"]["timestamp"]["type"] == "date"


def test_templates_are_installed(opensearch: Search) -> None:
    installed = opensearch.ok("GET", "/_index_template/logpipe-*")["index_templates"]
    assert {t["name"] for t in installed} == set(EXPECTED)
    for item in installed:
        assert item["index_template"]["_meta"]["managed-by"] == "logpipe"


def _ok_docs(response: dict[str, Any]) -> list[bytes]:
    assert {r["result"] for r in response["records"]} <= {"Ok", "Dropped"}
    return [decoded(r) for r in response["records"] if r["result"] == "Ok"]


def _assert_time(opensearch: Search, index: str, field: str, gte: str, lt: str, expected: int) -> None:
    assert opensearch.field_type(index, field) == "date"
    hits = opensearch.search(index, {"range": {field: {"gte": gte, "lt": lt}}})
    assert len(hits) == expected, (field, gte, lt, [h["_source"].get(field) for h in hits])


def test_waf_documents(samples: Path, opensearch: Search) -> None:
    lines = [line.encode() for line in (samples / "waf.jsonl").read_text().splitlines()]
    docs = _ok_docs(waf_transform.handler(firehose_event(lines), None))
    assert len(docs) == 8
    assert bulk_errors(opensearch.bulk_index("waf-log-2024-05-01", docs)) == []
    index = "waf-log-2024-05-01"
    # Two records carry 1576280412771 = 2019-12-13T23:40:12.771Z.
    _assert_time(opensearch, index, "timestamp", "2019-12-13T23:40:12.771Z", "2019-12-13T23:40:12.772Z", 2)
    _assert_time(opensearch, index, "timestamp", "2020-01-01", "2030-01-01", 6)
    assert opensearch.field_type(index, "httpRequest.clientIp") == "ip"
    assert opensearch.field_type(index, "action") == "keyword"
    assert opensearch.field_type(index, "captchaResponse.solveTimestamp") == "long"


def test_raw_waf_epoch_millis_still_typed_as_date(samples: Path, opensearch: Search) -> None:
    """Records indexed before (or without) the transform: the raw ms number is read as ms."""
    raw = [line.encode() for line in (samples / "waf.jsonl").read_text().splitlines()]
    assert bulk_errors(opensearch.bulk_index("waf-log-raw", raw)) == []
    _assert_time(opensearch, "waf-log-raw", "timestamp", "2019-12-13T23:40:12.771Z", "2019-12-13T23:40:12.772Z", 2)


@pytest.mark.parametrize(
    ("sample", "log_format", "count"),
    [
        ("vpc_flow.txt", None, 24),
        ("vpc_flow_custom.txt", V5_FORMAT, 2),
        ("vpc_flow_custom_v3_tcpflags.txt", V3_FORMAT, 8),
    ],
)
def test_flowlog_documents(
    samples: Path, opensearch: Search, monkeypatch: pytest.MonkeyPatch, sample: str, log_format: str | None, count: int
) -> None:
    if log_format:
        monkeypatch.setenv("LOG_FORMAT", log_format)
    else:
        monkeypatch.delenv("LOG_FORMAT", raising=False)
    lines = [line.encode() for line in (samples / sample).read_text().splitlines()]
    docs = _ok_docs(flowlog_transform.handler(firehose_event(lines), None))
    assert len(docs) == count
    index = "vpc-flowlog-2024-05-01"
    assert bulk_errors(opensearch.bulk_index(index, docs)) == []
    _assert_time(opensearch, index, "start", "1970-01-02", "2100-01-01", count)
    assert opensearch.field_type(index, "end") == "date"
    assert opensearch.field_type(index, "srcaddr") == "ip"
    assert opensearch.field_type(index, "bytes") == "long"
    assert opensearch.field_type(index, "log-status") == "keyword"
    if sample == "vpc_flow.txt":
        # 1418530010 = 2014-12-14T04:06:50Z: the first two records.
        _assert_time(opensearch, index, "start", "2014-12-14T04:06:50Z", "2014-12-14T04:06:51Z", 2)
        cidr = opensearch.search(index, {"term": {"srcaddr": "172.31.0.0/16"}})
        assert len(cidr) == 3  # 172.31.16.139 twice, 172.31.9.69 once


def test_raw_flowlog_epoch_seconds_still_typed_as_date(opensearch: Search) -> None:
    assert bulk_errors(opensearch.bulk_index("vpc-flowlog-raw", [{"start": 1418530010, "end": "1418530070"}])) == []
    _assert_time(opensearch, "vpc-flowlog-raw", "start", "2014-12-14T04:06:50Z", "2014-12-14T04:06:51Z", 1)
    _assert_time(opensearch, "vpc-flowlog-raw", "end", "2014-12-14T04:07:50Z", "2014-12-14T04:07:51Z", 1)


def test_securityhub_documents(samples: Path, opensearch: Search) -> None:
    events = [json.loads((samples / "securityhub_imported_event.json").read_text())]
    events += jsonl(samples / "securityhub_imported_events.jsonl")
    events += [envelope(json.loads((samples / n).read_text())) for n in ("asff_guardduty.json", "asff_config.json")]
    docs = _ok_docs(securityhub_transform.handler(firehose_event([json.dumps(e).encode() for e in events]), None))
    assert len(docs) == 6
    index = "aws-securityhub-findings-logs-2024-05-01"
    assert bulk_errors(opensearch.bulk_index(index, docs)) == []
    # CreatedAt 2020-10-05T19:18:47.848Z: the single event and the first of the three (the other two
    # are .775Z and .788Z); GuardDuty 2020-08-22T09:34:34.146Z; Config 2022-04-15T05:00:37.181Z.
    _assert_time(opensearch, index, "CreatedAt", "2020-10-05T19:18:47.848Z", "2020-10-05T19:18:47.849Z", 2)
    _assert_time(opensearch, index, "CreatedAt", "2020-10-05T19:18:47.775Z", "2020-10-05T19:18:47.789Z", 2)
    _assert_time(opensearch, index, "UpdatedAt", "2020-09-30T12:14:00.206Z", "2020-09-30T12:14:00.207Z", 1)
    _assert_time(opensearch, index, "@event.time", "2023-10-27", "2023-10-28", 4)
    for field in ("FirstObservedAt", "LastObservedAt", "ProcessedAt"):
        assert opensearch.field_type(index, field) == "date"
    assert opensearch.field_type(index, "ProductFields") == "flat_object"
    assert opensearch.field_type(index, "Severity.Product") == "float"
    # ProductFields keys with "/" and ":" are searchable without a field per key.
    hits = opensearch.search(index, {"term": {"ProductFields.aws/guardduty/service/count": "74"}})
    assert len(hits) == 1 and hits[0]["_source"]["Title"].startswith("199.241.229.197")
    mapping = opensearch.ok("GET", f"/{index}/_mapping")
    assert "aws/guardduty/service/count" not in json.dumps(mapping)


def test_route53_documents(samples: Path, opensearch: Search) -> None:
    """DNS logs go to OpenSearch untransformed (Direct PUT): the template alone types them."""
    docs = jsonl(samples / "route53_resolver.jsonl")
    index = "dns-log-2024-05-01"
    assert bulk_errors(opensearch.bulk_index(index, docs)) == []
    # 2021-12-11T22:46:23Z appears in lines 2 and 3 of the sample.
    _assert_time(opensearch, index, "query_timestamp", "2021-12-11T22:46:23Z", "2021-12-11T22:46:24Z", 2)
    _assert_time(opensearch, index, "query_timestamp", "2021-01-01", "2022-01-01", 8)
    assert opensearch.field_type(index, "srcaddr") == "ip"
    assert opensearch.field_type(index, "srcport") == "integer"
    assert opensearch.field_type(index, "version") == "keyword"
    assert opensearch.field_type(index, "answers.Rdata") == "keyword"
    assert len(opensearch.search(index, {"range": {"srcport": {"gte": 56000}}})) == 1


def test_date_detection_is_off(opensearch: Search) -> None:
    """A date-looking string in an undeclared field stays a keyword, so a later non-date value
    in that field cannot be rejected."""
    index = "waf-log-detect"
    docs = [{"timestamp": 1, "note": "2020-01-01T00:00:00Z"}, {"timestamp": 2, "note": "Oct 2, 2019, 11:12:29 PM"}]
    assert bulk_errors(opensearch.bulk_index(index, docs)) == []
    assert opensearch.field_type(index, "note") == "keyword"
