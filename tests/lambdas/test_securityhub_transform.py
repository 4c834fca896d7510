"""Security Hub transform on the real EventBridge "Findings - Imported" samples and ASFF findings."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from logpipe.lambdas import securityhub_transform
from logpipe.pipelines.securityhub import ASFF_TIMES

from .support import Search, assert_contract, bulk_errors, decoded, firehose_event, jsonl


def envelope(finding: dict[str, Any], *, n: int = 1) -> dict[str, Any]:
    """An EventBridge event around an ASFF finding, shaped like the Audit Manager samples."""
    region = finding.get("Region", "us-east-1")
    return {
        "version": "0",
        "id": "8e5622f9-d81c-4d81-612a-9319e7ee2506",
        "detail-type": "Security Hub Findings - Imported",
        "source": "aws.securityhub",
        "account": finding["AwsAccountId"],
        "time": "2020-09-30T12:14:03Z",
        "region": region,
        "resources": [finding["ProductFields"]["aws/securityhub/FindingId"]],
        "detail": {"findings": [copy.deepcopy(finding) for _ in range(n)]},
    }


def _events(samples: Path) -> list[dict[str, Any]]:
    events = [json.loads((samples / "securityhub_imported_event.json").read_text())]
    events += jsonl(samples / "securityhub_imported_events.jsonl")
    for name in ("asff_guardduty.json", "asff_config.json"):
        events.append(envelope(json.loads((samples / name).read_text())))
    return events


def test_every_sample_event(samples: Path) -> None:
    events = _events(samples)
    event = firehose_event([json.dumps(e).encode() for e in events])
    response = securityhub_transform.handler(event, None)
    assert_contract(event, response)
    assert [r["result"] for r in response["records"]] == ["Ok"] * 6
    for source, out in zip(events, response["records"], strict=True):
        doc = json.loads(decoded(out))
        finding = source["detail"]["findings"][0]
        # The document is the finding, unchanged, plus the envelope under "@event".
        assert {k: v for k, v in doc.items() if k != "@event"} == finding
        assert doc["@event"] == {
            "id": source["id"],
            "time": source["time"],
            "account": source["account"],
            "region": source["region"],
            "source": "aws.securityhub",
            "detail-type": "Security Hub Findings - Imported",
            "resources": source["resources"],
        }


def test_concrete_values(samples: Path) -> None:
    event = json.loads((samples / "securityhub_imported_event.json").read_text())
    response = securityhub_transform.handler(firehose_event([json.dumps(event).encode()]), None)
    doc = json.loads(decoded(response["records"][0]))
    assert doc["CreatedAt"] == "2020-10-05T19:18:47.848Z"
    assert doc["UpdatedAt"] == "2023-11-01T14:11:53.720Z"
    assert doc["@event"]["time"] == "2023-10-27T18:55:59Z"
    assert doc["@event"]["account"] == "111122223333"
    assert doc["@event"]["region"] == "us-west-2"
    assert doc["ProductFields"]["RelatedAWSResources:0/name"] == "securityhub-iam-root-access-key-check-67cbb1c4"


def test_several_findings_fail_whole_so_none_is_lost(samples: Path) -> None:
    """Two findings in one event: the record fails, Firehose keeps the original (both findings)."""
    finding = json.loads((samples / "asff_guardduty.json").read_text())
    two = envelope(finding, n=2)
    one = envelope(finding)
    event = firehose_event([json.dumps(two).encode(), json.dumps(one).encode()])
    response = securityhub_transform.handler(event, None)
    assert_contract(event, response)
    failed, ok = response["records"]
    assert (failed["result"], ok["result"]) == ("ProcessingFailed", "Ok")
    # The failed record hands back its input untouched: both findings are in it.
    assert failed["data"] == event["records"][0]["data"]
    assert len(json.loads(decoded(failed))["detail"]["findings"]) == 2


def test_not_findings_events_fail(samples: Path) -> None:
    finding = json.loads((samples / "asff_config.json").read_text())
    no_created = envelope(finding)
    del no_created["detail"]["findings"][0]["CreatedAt"]
    cases = [
        json.dumps(finding).encode(),  # a bare finding, no envelope
        json.dumps({**envelope(finding), "detail": {"findings": []}}).encode(),
        json.dumps({**envelope(finding), "detail": {"insightArn": "x"}}).encode(),  # "Insight Results"
        json.dumps({**envelope(finding), "detail": {"findings": ["not an object"]}}).encode(),
        json.dumps(no_created).encode(),
        b"[]",
        b"{broken",
    ]
    response = securityhub_transform.handler(firehose_event(cases), None)
    assert [r["result"] for r in response["records"]] == ["ProcessingFailed"] * len(cases)


# --- every ASFF time, indexed through the template ----------------------------------------------


def _put(doc: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted template path in a finding; a list on the way (ThreatIntelIndicators[]) gets it in
    its first element."""
    *parents, leaf = path.split(".")
    node: Any = doc
    for part in parents:
        node = node.setdefault(part, {})
        if isinstance(node, list):
            node = node[0]
    node[leaf] = value


def test_every_asff_time_is_a_date(samples: Path, opensearch: Search) -> None:
    """Each timestamp of the ASFF syntax is range-searchable with time zones (a string field would
    compare the text); times inside Resources[].Details stay searchable as exact strings."""
    finding = json.loads((samples / "asff_config.json").read_text())
    finding.update(ThreatIntelIndicators=[{"Type": "DOMAIN"}], Vulnerabilities=[{"Id": "CVE-2024-1"}])
    stamps = {path: f"2021-03-{day:02d}T10:00:00.000Z" for day, path in enumerate(ASFF_TIMES, start=1)}
    for path, stamp in stamps.items():
        _put(finding, path, stamp)
    finding["Resources"][0]["Details"] = {"AwsEc2Instance": {"LaunchedAt": "2022-06-02T16:11:39.000Z"}}
    response = securityhub_transform.handler(firehose_event([json.dumps(envelope(finding)).encode()]), None)
    index = "aws-securityhub-findings-logs-other-2021-03-01"
    assert bulk_errors(opensearch.bulk_index(index, _ok(response))) == []

    for path, stamp in stamps.items():
        assert opensearch.field_type(index, path) == "date", path
        day = stamp[:10]
        # 10:00Z lies between 10:30 and 11:30 at UTC+01:00; as text it sorts before both bounds.
        window = {"gte": f"{day}T10:30:00+01:00", "lt": f"{day}T11:30:00+01:00"}
        assert len(opensearch.search(index, {"range": {path: window}})) == 1, path
        late = {"gte": f"{day}T11:30:00+01:00"}
        assert opensearch.search(index, {"range": {path: late}}) == [], path
    assert opensearch.field_type(index, "Resources.Details") == "flat_object"
    exact = {"term": {"Resources.Details.AwsEc2Instance.LaunchedAt": "2022-06-02T16:11:39.000Z"}}
    assert len(opensearch.search(index, exact)) == 1


def _ok(response: dict[str, Any]) -> list[bytes]:
    assert [r["result"] for r in response["records"]] == ["Ok"]
    return [decoded(r) for r in response["records"]]
