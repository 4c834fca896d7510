"""FLAT_OBJECT_MODE: the flat_object fields of CloudTrail and Security Hub documents written for
OpenSearch >= 2.17 (native), 2.7-2.16 (no-nulls) and < 2.7 / Elasticsearch 7.10 (json-string),
on the real samples."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from logpipe.lambdas import _flat_object, cloudtrail_indexer, securityhub_transform
from logpipe.pipelines import securityhub
from tests.support import index_templates

from .support import FakeContext, Search, cloudtrail_records, cwl_event, cwl_payload, decoded, firehose_event, jsonl
from .test_securityhub_transform import envelope


def _values(doc: Any, path: str) -> Iterator[tuple[dict[str, Any], str]]:
    """(parent, key) of every place a dotted path reaches, walking lists."""
    *parents, leaf = path.split(".")
    nodes = [doc]
    for key in parents:
        nodes = [n.get(key) for n in nodes if isinstance(n, dict)]
        nodes = [x for n in nodes for x in (n if isinstance(n, list) else [n])]
    for node in nodes:
        if isinstance(node, dict) and leaf in node:
            yield node, leaf


def _has_null(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, dict):
        return any(_has_null(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_null(v) for v in value)
    return False


def _cloudtrail_docs(samples: Path, mode: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    records = cloudtrail_records(samples)
    payload = cwl_payload([json.dumps(r) for r in records])
    docs = cloudtrail_indexer.build_documents(payload, "cwl", mode)
    return records, [json.loads(doc.source) for doc in docs]


# --- the setting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "mode"),
    [
        (None, "native"),
        ("", "native"),
        ("native", "native"),
        ("no-nulls", "no-nulls"),
        (" JSON-STRING ", "json-string"),
        ("json_string", "json-string"),
    ],
)
def test_mode_values(value: str | None, mode: str) -> None:
    env = {} if value is None else {"FLAT_OBJECT_MODE": value}
    assert _flat_object.mode_from_env(env) == mode
    assert cloudtrail_indexer.Config.from_env(env).flat_object_mode == mode


def test_unknown_mode_is_native_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        assert _flat_object.mode_from_env({"FLAT_OBJECT_MODE": "nonulls"}) == "native"
    warnings = [r.getMessage() for r in caplog.records if "FLAT_OBJECT_MODE" in r.getMessage()]
    assert warnings == ["logpipe: FLAT_OBJECT_MODE='nonulls' is not one of native, no-nulls, json-string; using native"]


def test_exported_constants() -> None:
    assert cloudtrail_indexer.FLAT_OBJECT_MODES == securityhub_transform.FLAT_OBJECT_MODES
    assert cloudtrail_indexer.FLAT_OBJECT_MODES == ("native", "no-nulls", "json-string")
    assert securityhub_transform.FLAT_OBJECT_FIELDS == securityhub.VARIABLE
    assert _flat_object.leaves_field("Resources.Details") == "Resources.Details_leaves"


# --- no-nulls ---------------------------------------------------------------------------------


def test_drop_nulls_at_every_depth() -> None:
    doc = {
        "requestParameters": {"a": None, "b": [1, None, {"c": None, "d": 2}, [None]], "e": {"f": None}},
        "responseElements": None,
        "additionalEventData": [None, "x"],
        "other": None,
    }
    assert _flat_object.apply(doc, cloudtrail_indexer._FLAT_PATHS, "no-nulls", wrap_scalars=True)
    assert doc == {
        "requestParameters": {"b": [1, {"d": 2}, []], "e": {}},
        "additionalEventData": {"_value": ["x"]},
        "other": None,  # not a flat_object field: untouched
    }


def test_no_nulls_on_cloudtrail_samples(
    samples: Path, opensearch: Search, indexer_env: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    records, docs = _cloudtrail_docs(samples, "no-nulls")
    fields = cloudtrail_indexer.FLAT_OBJECT_FIELDS
    with_nulls = [r for r in records if any(_has_null(p[k]) for f in fields for p, k in _values(r, f))]
    assert len(with_nulls) == 7  # e.g. ConsoleLogin's requestParameters: null
    for record, doc in zip(records, docs, strict=True):
        for field in fields:
            assert not any(_has_null(p[k]) for p, k in _values(doc, field)), (record["eventID"], field)
            if any(p[k] is None for p, k in _values(record, field)):
                assert not list(_values(doc, field))  # a wholly null field is left out ...
        assert json.loads(doc["@message"]) == record  # ... and the raw record still has it
    # UpdateTrail: responseElements null → gone; requestParameters kept.
    update = docs[6]
    assert "responseElements" not in update and update["requestParameters"] == {"name": "myTrail2"}

    monkeypatch.setenv("FLAT_OBJECT_MODE", "no-nulls")
    result = cloudtrail_indexer.handler(cwl_event(cwl_payload([json.dumps(r) for r in records])), FakeContext())
    assert (result["indexed"], result["failed"]) == (16, 0)
    hits = opensearch.search("cwl-*", {"term": {"additionalEventData.MobileVersion": "No"}})
    assert len(hits) == 3  # the three ConsoleLogin records


def test_no_nulls_on_a_security_hub_finding(samples: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ASFF samples have no null; put some where ASFF allows a value to be missing."""
    finding = json.loads((samples / "asff_guardduty.json").read_text())
    event = envelope(finding)
    sent = event["detail"]["findings"][0]
    sent["ProductFields"]["aws/guardduty/service/evidence"] = None
    sent["UserDefinedFields"] = None
    sent["Resources"][0]["Tags"] = {"Name": "kubectl", "Owner": None}
    sent["Resources"][0]["Details"]["AwsEc2Instance"]["NetworkInterfaces"] = [None]
    monkeypatch.setenv("FLAT_OBJECT_MODE", "no-nulls")
    response = securityhub_transform.handler(firehose_event([json.dumps(event).encode()]), None)
    doc = json.loads(decoded(response["records"][0]))
    assert "aws/guardduty/service/evidence" not in doc["ProductFields"]
    assert doc["ProductFields"]["aws/guardduty/service/count"] == "74"
    assert "UserDefinedFields" not in doc
    assert doc["Resources"][0]["Tags"] == {"Name": "kubectl"}
    assert doc["Resources"][0]["Details"]["AwsEc2Instance"]["NetworkInterfaces"] == []
    assert not _has_null({k: doc[k] for k in ("ProductFields", "Resources")})


# --- json-string ------------------------------------------------------------------------------


def test_leaves_rules() -> None:
    value = {
        "b": [True, False, None, 1, 2.5, "x", ["x", {"c": "y"}]],
        "a": {"long": "z" * 2000, "empty": {}},
        "dup": ["same", "same"],
    }
    assert _flat_object.leaves(value) == sorted(
        [
            "a.long=" + "z" * 1024,
            "b.c=y",
            "b=1",
            "b=2.5",
            "b=false",
            "b=true",
            "b=x",
            "dup=same",
        ]
    )
    assert _flat_object.leaves("a string") == ["_value=a string"]
    assert _flat_object.leaves([1, None]) == ["_value=1"]


def test_json_string_on_cloudtrail_samples(samples: Path) -> None:
    records, docs = _cloudtrail_docs(samples, "json-string")
    fields = cloudtrail_indexer.FLAT_OBJECT_FIELDS
    seen = 0
    for record, doc in zip(records, docs, strict=True):
        for field in fields:
            originals = list(_values(record, field))
            written = list(_values(doc, field))
            if not originals or originals[0][0][originals[0][1]] is None:
                assert not written  # absent, or a wholly null value: left out
                continue
            ((parent, key),) = written
            ((o_parent, o_key),) = originals
            assert isinstance(parent[key], str)
            assert json.loads(parent[key]) == o_parent[o_key]  # the original, nulls included
            assert parent[key + "_leaves"] == _flat_object.leaves(o_parent[o_key])
            seen += 1
    assert seen == 33  # non-null values of these fields in the 16 records (3 are {})

    # Checked by hand: AssumeRole (records[3]).
    assume = docs[3]
    assert assume["requestParameters_leaves"] == [
        "roleArn=arn:aws:iam::111122223333:role/EC2-dev",
        "roleSessionName=JohnDoe-EC2-dev",
        "serialNumber=arn:aws:iam::777788889999:mfa",
        "sourceIdentity=JohnDoe",
    ]
    assert assume["responseElements_leaves"] == [
        "assumedRoleUser.arn=arn:aws:sts::111122223333:assumed-role/EC2-dev/JohnDoe-EC2-dev",
        "assumedRoleUser.assumedRoleId=AIDAQRSTUVWXYZEXAMPLE:JohnDoe-EC2-dev",
        "credentials.accessKeyId=AKIAQRSTUVWXYZEXAMPLE",
        "credentials.expiration=Jul 18, 2023, 4:07:39 PM",
        "credentials.sessionToken=<encoded session token blob>",
        "sourceIdentity=JohnDoe",
    ]
    assert assume["requestParameters"] == (
        '{"roleArn":"arn:aws:iam::111122223333:role/EC2-dev","roleSessionName":"JohnDoe-EC2-dev",'
        '"serialNumber":"arn:aws:iam::777788889999:mfa","sourceIdentity":"JohnDoe"}'
    )
    # The Insights event: numbers as JSON writes them.
    assert docs[10]["insightDetails_leaves"] == [
        "eventName=UpdateInstanceInformation",
        "eventSource=ssm.amazonaws.com",
        "insightContext.statistics.baseline.average=85.4202380952",
        "insightContext.statistics.insight.average=664",
        "insightType=ApiCallRateInsight",
        "state=Start",
    ]


def _legacy_template(pipeline: str, pattern: str, fields: tuple[str, ...]) -> dict[str, Any]:
    """logpipe's own template for an engine without flat_object (``up`` picks it for OpenSearch < 2.7
    and Elasticsearch 7.10), on ``pattern``; it must type every field the handler writes in that mode."""
    body = index_templates(mode="json-string")[f"logpipe-{pipeline}"]
    body["index_patterns"] = [pattern]
    body["priority"] += 1
    props = body["template"]["mappings"]["properties"]
    for field in fields:
        *parents, leaf = field.split(".")
        node = props
        for part in parents:
            node = node[part]["properties"]
        assert node[leaf] == {"type": "text"}, field
        assert node[leaf + "_leaves"]["type"] == "keyword", field
    return body


def test_json_string_cloudtrail_documents_index_and_search(
    samples: Path, opensearch: Search, indexer_env: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = cloudtrail_indexer.FLAT_OBJECT_FIELDS
    opensearch.ok("PUT", "/_index_template/legacy-cloudtrail", _legacy_template("cloudtrail", "cwlold-*", fields))
    indexer_env(INDEX_PREFIX="cwlold")
    monkeypatch.setenv("FLAT_OBJECT_MODE", "json-string")
    records = cloudtrail_records(samples)
    result = cloudtrail_indexer.handler(cwl_event(cwl_payload([json.dumps(r) for r in records])), FakeContext())
    assert (result["indexed"], result["failed"]) == (16, 0)
    assert opensearch.field_type("cwlold-2022.03.01", "requestParameters") == "text"
    assert opensearch.field_type("cwlold-2022.03.01", "requestParameters_leaves") == "keyword"
    leaf = {"term": {"requestParameters_leaves": "roleSessionName=StateManagerService"}}
    assert [h["_id"] for h in opensearch.search("cwlold-*", leaf)] == ["74d6c6bb-d219-49e4-8148-47a106bda44e"]
    text = opensearch.search("cwlold-*", {"match": {"responseElements": "Success"}})
    assert {h["_source"]["eventName"] for h in text} == {"ConsoleLogin"}


def _securityhub_events(samples: Path) -> list[dict[str, Any]]:
    events = [json.loads((samples / "securityhub_imported_event.json").read_text())]
    events += jsonl(samples / "securityhub_imported_events.jsonl")
    events += [envelope(json.loads((samples / n).read_text())) for n in ("asff_guardduty.json", "asff_config.json")]
    return events


def test_json_string_on_security_hub_samples(
    samples: Path, opensearch: Search, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _securityhub_events(samples)
    originals = [copy.deepcopy(e["detail"]["findings"][0]) for e in events]
    monkeypatch.setenv("FLAT_OBJECT_MODE", "json-string")
    response = securityhub_transform.handler(firehose_event([json.dumps(e).encode() for e in events]), None)
    docs = [json.loads(decoded(r)) for r in response["records"]]
    assert len(docs) == 6
    for original, doc in zip(originals, docs, strict=True):
        assert json.loads(doc["ProductFields"]) == original["ProductFields"]
        assert doc["ProductFields_leaves"] == _flat_object.leaves(original["ProductFields"])
        for resource, sent in zip(doc["Resources"], original["Resources"], strict=True):
            for key in ("Details", "Tags"):
                if key in sent:
                    assert json.loads(resource[key]) == sent[key]
                    assert resource[key + "_leaves"] == _flat_object.leaves(sent[key])
                else:
                    assert key not in resource and key + "_leaves" not in resource

    config = docs[5]  # asff_config.json, checked by hand
    assert config["Resources"][0]["Details_leaves"] == [
        "AwsS3Bucket.CreatedAt=2022-04-15T04:32:53.000Z",
        "AwsS3Bucket.OwnerId=4edbba300f1caa608fba2aad2c8fcfe30c32ca32777f64451eec4fb2a0f10d8c",
    ]
    assert "aws/config/ConfigComplianceType=NON_COMPLIANT" in config["ProductFields_leaves"]
    assert docs[4]["Resources"][0]["Tags_leaves"] == ["Name=kubectl"]  # GuardDuty

    fields = securityhub_transform.FLAT_OBJECT_FIELDS
    legacy = _legacy_template("securityhub", "old-findings-*", fields)
    opensearch.ok("PUT", "/_index_template/legacy-securityhub", legacy)
    answer = opensearch.bulk_index("old-findings-1", [decoded(r) for r in response["records"]])
    assert not answer["errors"]
    hits = opensearch.search("old-findings-1", {"term": {"ProductFields_leaves": "aws/guardduty/service/count=74"}})
    assert len(hits) == 1 and hits[0]["_source"]["Title"].startswith("199.241.229.197")
    by_tag = opensearch.search("old-findings-1", {"term": {"Resources.Tags_leaves": "Name=kubectl"}})
    assert len(by_tag) == 1
