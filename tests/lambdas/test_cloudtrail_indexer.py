"""CloudTrail indexer: real CloudTrail samples through the real handler into osmem over HTTP."""

from __future__ import annotations

import base64
import gzip
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from logpipe.lambdas import cloudtrail_indexer
from tests.support import index_templates

from .support import FakeContext, FaultProxy, Search, cloudtrail_records, cwl_event, cwl_payload

BUCKET = "demogo-cloudtrail-failed"


@pytest.fixture
def s3(aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def parked(s3: Any) -> list[dict[str, Any]]:
    """Every failed-document line written to the bucket."""
    lines = []
    for obj in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        body = s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
        lines += [json.loads(line) for line in body.splitlines()]
    return lines


def sample_event(samples: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    records = cloudtrail_records(samples)
    return cwl_event(cwl_payload([json.dumps(r) for r in records])), records


# --- the sample records, end to end -----------------------------------------------------------


def test_all_sample_records_into_osmem(samples: Path, opensearch: Search, indexer_env: Callable) -> None:
    event, records = sample_event(samples)
    assert len(records) == 16
    result = cloudtrail_indexer.handler(event, FakeContext())
    assert result["indexed"] == 16
    assert result["failed_parked"] == 0 and result["skipped"] == 0

    # Two sample records are the same CloudTrail event twice (same eventID): 14 documents.
    unique = {r["eventID"]: r for r in records}
    assert len(unique) == 14
    # Index per UTC day of eventTime, computed by hand from the samples.
    expected_indices = {
        "cwl-2022.11.10": 3,  # three ConsoleLogin
        "cwl-2014.07.18": 1,
        "cwl-2019.10.02": 1,
        "cwl-2022.03.01": 4,  # AssumeRole (twice in the samples) + the CLO file's 3 others
        "cwl-2016.07.14": 1,
        "cwl-2026.01.28": 1,  # PutObject (twice in the samples: OTEL file)
        "cwl-2020.11.30": 1,
        "cwl-2019.06.02": 1,
        "cwl-2019.11.14": 1,  # the Insights event
    }
    assert opensearch.indices("cwl-*") == expected_indices

    hits = opensearch.search("cwl-*", {"match_all": {}})
    assert sorted(h["_id"] for h in hits) == sorted(unique)
    for hit in hits:
        src = hit["_source"]
        record = unique[hit["_id"]]
        assert hit["_index"] == "cwl-" + record["eventTime"][:10].replace("-", ".")
        assert src["eventTime"] == record["eventTime"]  # kept as CloudTrail wrote it
        assert src["eventID"] == record["eventID"]
        assert src["@log_group"] == "aws-cloudtrail-logs-demogo"
        assert src["@log_stream"] == "111122223333_CloudTrail_us-east-1"
        assert src["@owner"] == "111122223333"
        assert len(src["@id"]) == 56 and src["@id"].isdigit()
        assert json.loads(src["@message"]) == record
        # Log event timestamps are 1700000000000 + i → 2023-11-14T22:13:20.<i>Z (GNU date).
        assert src["@timestamp"].startswith("2023-11-14T22:13:20.0") and src["@timestamp"].endswith("Z")
        # Apart from the @ fields, the document is the CloudTrail record, untouched.
        assert {k: v for k, v in src.items() if not k.startswith("@")} == record

    for index in expected_indices:
        assert opensearch.field_type(index, "eventTime") == "date"
        assert opensearch.field_type(index, "@timestamp") == "date"
        assert opensearch.field_type(index, "@message") == "text"
    assert opensearch.field_type("cwl-2022.03.01", "sourceIPAddress") == "keyword"
    assert opensearch.field_type("cwl-2022.03.01", "requestParameters") == "flat_object"
    assert opensearch.field_type("cwl-2022.03.01", "responseElements") == "flat_object"
    assert opensearch.field_type("cwl-2022.11.10", "additionalEventData") == "flat_object"
    assert opensearch.field_type("cwl-2019.06.02", "serviceEventDetails") == "flat_object"
    assert opensearch.field_type("cwl-2019.11.14", "insightDetails") == "flat_object"
    # Non-ISO dates inside responseElements did not become date fields or conflicts.
    assert opensearch.field_type("cwl-2022.03.01", "responseElements.credentials.expiration") is None


def test_date_queries_and_flat_object_search(samples: Path, opensearch: Search, indexer_env: Callable) -> None:
    event, _ = sample_event(samples)
    cloudtrail_indexer.handler(event, FakeContext())
    in_2019 = opensearch.search("cwl-*", {"range": {"eventTime": {"gte": "2019-01-01", "lt": "2020-01-01"}}})
    assert sorted(h["_source"]["eventTime"] for h in in_2019) == [
        "2019-06-02T00:06:08Z",
        "2019-10-02T22:12:29Z",
        "2019-11-14T00:51:00Z",
    ]
    # flat_object leaves are searchable by dotted path ...
    by_role = opensearch.search("cwl-*", {"term": {"requestParameters.roleSessionName": "StateManagerService"}})
    assert [h["_id"] for h in by_role] == ["74d6c6bb-d219-49e4-8148-47a106bda44e"]
    # ... and sourceIPAddress holds service names as well as addresses.
    by_src = opensearch.search("cwl-*", {"term": {"sourceIPAddress": "AWS Internal"}})
    assert [h["_id"] for h in by_src] == ["234f004b-EXAMPLE"]


def test_redelivered_batch_does_not_duplicate(samples: Path, opensearch: Search, indexer_env: Callable) -> None:
    event, _ = sample_event(samples)
    cloudtrail_indexer.handler(event, FakeContext())
    before = opensearch.indices("cwl-*")
    # The same records again, redelivered in a new batch with new log event ids and times.
    records = cloudtrail_records(samples)
    again = cwl_event(cwl_payload([json.dumps(r) for r in records], timestamp=1_700_000_600_000))
    assert cloudtrail_indexer.handler(again, FakeContext())["indexed"] == 16
    cloudtrail_indexer.handler(event, FakeContext())
    assert opensearch.indices("cwl-*") == before


def test_cwl_sample_event_and_non_json_messages(samples: Path, opensearch: Search, indexer_env: Callable) -> None:
    """The Lambda console test event carries plain-text messages: indexed raw, never dropped."""
    event = json.loads((samples / "cwl_subscription_event.json").read_text())
    result = cloudtrail_indexer.handler(event, FakeContext())
    assert result["indexed"] == 2
    # timestamp 1440442987000 → 2015-08-24T19:03:07Z (GNU date).
    hits = opensearch.search("cwl-2015.08.24", {"match_all": {}})
    by_id = {h["_id"]: h["_source"] for h in hits}
    assert by_id["eventId1"] == {
        "@id": "eventId1",
        "@timestamp": "2015-08-24T19:03:07.000Z",
        "@message": "[ERROR] First test message",
        "@owner": "123456789123",
        "@log_group": "testLogGroup",
        "@log_stream": "testLogStream",
    }
    assert by_id["eventId2"]["@timestamp"] == "2015-08-24T19:03:07.001Z"
    assert opensearch.search("cwl-*", {"match": {"@message": "second"}})[0]["_id"] == "eventId2"


def test_odd_messages(opensearch: Search, indexer_env: Callable) -> None:
    messages = [
        "",  # empty
        "[1, 2, 3]",  # JSON, not an object
        '{"eventTime": "2022-11-10T16:24:34Z", "broken": ',  # truncated JSON
        '{"eventVersion": "1.08", "eventTime": "2022-11-10T16:24:34+09:00"}',  # offset, no eventID
        '{"eventID": "scalar-shapes", "eventTime": "2022-11-10T00:00:01Z", "requestParameters": "a string",'
        ' "responseElements": true, "additionalEventData": [1, "x"], "serviceEventDetails": null,'
        ' "userIdentity": {"sessionContext": {"webIdFederationData": "odd"}}}',
        '{"eventID": "object-shapes", "eventTime": "2022-11-10T00:00:02Z", "requestParameters": {"a": 1},'
        ' "responseElements": {"a": {"b": ["x", 2]}}, "additionalEventData": {"a": "y"}}',
    ]
    payload = cwl_payload(messages)
    ids = [event["id"] for event in payload["logEvents"]]
    result = cloudtrail_indexer.handler(cwl_event(payload), FakeContext())
    assert result == {**result, "indexed": 6, "failed_parked": 0}
    hits = {h["_id"]: h for h in opensearch.search("cwl-*", {"match_all": {}})}
    assert len(hits) == 6
    raw = [hits[ids[i]] for i in range(3)]
    for hit, message in zip(raw, messages, strict=False):
        assert hit["_source"]["@message"] == message
        assert set(hit["_source"]) == {"@id", "@timestamp", "@message", "@owner", "@log_group", "@log_stream"}
        assert hit["_index"] == "cwl-2023.11.14"
    # +09:00 on the 10th at 16:24 is 07:24 UTC on the 10th; no eventID → the log event id.
    offset = hits[ids[3]]
    assert offset["_index"] == "cwl-2022.11.10"
    assert offset["_source"]["eventTime"] == "2022-11-10T16:24:34+09:00"
    scalar = hits["scalar-shapes"]["_source"]
    assert scalar["requestParameters"] == {"_value": "a string"}
    assert scalar["responseElements"] == {"_value": True}
    assert scalar["additionalEventData"] == {"_value": [1, "x"]}
    assert scalar["serviceEventDetails"] is None
    assert scalar["userIdentity"]["sessionContext"]["webIdFederationData"] == {"_value": "odd"}
    assert hits["object-shapes"]["_source"]["responseElements"] == {"a": {"b": ["x", 2]}}


def test_offset_event_time_crossing_midnight() -> None:
    assert cloudtrail_indexer.event_day("2022-11-10T01:00:00+09:00") == "2022.11.09"
    assert cloudtrail_indexer.event_day("2022-11-10T23:30:00-01:00") == "2022.11.11"
    assert cloudtrail_indexer.event_day("2014-07-18T15:07:39Z") == "2014.07.18"
    assert cloudtrail_indexer.event_day("Jul 18, 2014") is None
    assert cloudtrail_indexer.event_day("2014-13-18T15:07:39Z") is None
    assert cloudtrail_indexer.event_day(1405696059) is None


def test_control_message_is_skipped(samples: Path, fault_proxy: FaultProxy, indexer_env: Callable) -> None:
    indexer_env(OPENSEARCH_ENDPOINT=fault_proxy.url)
    payload = json.loads((samples / "cwl_control_message_payload.json").read_text())
    result = cloudtrail_indexer.handler(cwl_event(payload), FakeContext())
    assert result == {
        "indexed": 0,
        "created": 0,
        "replaced": 0,
        "redelivered": 0,
        "failed": 0,
        "failed_parked": 0,
        "skipped": 1,
        "failed_location": None,
    }
    assert fault_proxy.requests == []


def test_empty_batch(fault_proxy: FaultProxy, indexer_env: Callable) -> None:
    indexer_env(OPENSEARCH_ENDPOINT=fault_proxy.url)
    result = cloudtrail_indexer.handler(cwl_event(cwl_payload([])), FakeContext())
    assert (result["indexed"], result["failed_parked"]) == (0, 0)
    assert fault_proxy.requests == []


def test_flat_object_fields_match_template() -> None:
    mappings = index_templates()["logpipe-cloudtrail"]["template"]["mappings"]["properties"]
    for path in cloudtrail_indexer.FLAT_OBJECT_FIELDS:
        *parents, leaf = path.split(".")
        node = mappings
        for part in parents:
            node = node[part]["properties"]
        assert node[leaf] == {"type": "flat_object"}, path


# --- retries ----------------------------------------------------------------------------------


def test_429_twice_then_success(
    samples: Path, opensearch: Search, fault_proxy: FaultProxy, indexer_env: Callable
) -> None:
    indexer_env(OPENSEARCH_ENDPOINT=fault_proxy.url)
    fault_proxy.script = [("status", 429), ("status", 429)]
    event, _ = sample_event(samples)
    result = cloudtrail_indexer.handler(event, FakeContext())
    assert result["indexed"] == 16 and result["failed_parked"] == 0
    bulks = [r for r in fault_proxy.requests if r.is_bulk]
    assert [r.status for r in bulks] == [429, 429, 200]
    assert bulks[0].body == bulks[2].body
    assert sum(opensearch.indices("cwl-*").values()) == 14


@pytest.mark.parametrize("fault", [("status", 503), ("status", 502), ("drop",)])
def test_5xx_and_dropped_connections_are_retried(
    samples: Path, opensearch: Search, fault_proxy: FaultProxy, indexer_env: Callable, fault: tuple
) -> None:
    indexer_env(OPENSEARCH_ENDPOINT=fault_proxy.url)
    fault_proxy.script = [fault]
    event, _ = sample_event(samples)
    result = cloudtrail_indexer.handler(event, FakeContext())
    assert result["indexed"] == 16 and result["failed_parked"] == 0
    assert len([r for r in fault_proxy.requests if r.is_bulk]) == 2
    assert sum(opensearch.indices("cwl-*").values()) == 14


def test_per_item_rejections_are_retried_alone(
    samples: Path, opensearch: Search, fault_proxy: FaultProxy, indexer_env: Callable
) -> None:
    indexer_env(OPENSEARCH_ENDPOINT=fault_proxy.url)
    fault_proxy.script = [
        ("reject_items", 3, 429, "es_rejected_execution_exception"),
        ("reject_items", 1, 503, "unavailable_shards_exception"),
    ]
    event, records = sample_event(samples)
    result = cloudtrail_indexer.handler(event, FakeContext())
    assert result["indexed"] == 16 and result["failed_parked"] == 0
    # The rejected items had been written all the same (FaultProxy forwards first), so their
    # retries answer 409 and are read back: redeliveries, not duplicates.
    first, second, third = [r for r in fault_proxy.requests if r.is_bulk]
    assert first.bulk_ids() == [r["eventID"] for r in records]
    assert second.bulk_ids() == [r["eventID"] for r in records[:3]]  # only the rejected three
    assert third.bulk_ids() == [records[0]["eventID"]]
    assert sum(opensearch.indices("cwl-*").values()) == 14


def test_gives_up_after_max_attempts_and_parks(
    samples: Path, fault_proxy: FaultProxy, indexer_env: Callable, s3: Any
) -> None:
    indexer_env(OPENSEARCH_ENDPOINT=fault_proxy.url, MAX_ATTEMPTS="3", FAILED_BUCKET=BUCKET)
    fault_proxy.script = [("status", 429)] * 10
    event, records = sample_event(samples)
    result = cloudtrail_indexer.handler(event, FakeContext())
    assert (result["indexed"], result["failed_parked"]) == (0, 16)
    assert len(fault_proxy.requests) == 3
    lines = parked(s3)
    assert [line["_id"] for line in lines] == [r["eventID"] for r in records]
    assert {line["status"] for line in lines} == {429}
    assert lines[0]["error"]["type"] == "injected_429"
    assert lines[0]["error"]["gave_up"] == "gave up after 3 attempts"
    assert lines[0]["attempts"] == 3
    assert result["failed_location"].startswith(f"s3://{BUCKET}/cloudtrail-failed/")
    assert result["failed_location"].endswith(".jsonl")


def test_backoff_is_exponential_with_jitter() -> None:
    config = cloudtrail_indexer.Config(endpoint="http://x", retry_base_ms=100, retry_max_ms=1000)
    low = cloudtrail_indexer.BulkIndexer(config, send=lambda *a: (200, b""), rand=lambda: 0.0)
    high = cloudtrail_indexer.BulkIndexer(config, send=lambda *a: (200, b""), rand=lambda: 1.0)
    assert [low.backoff_ms(n) for n in range(1, 7)] == [50, 100, 200, 400, 500, 500]
    assert [high.backoff_ms(n) for n in range(1, 7)] == [100, 200, 400, 800, 1000, 1000]


def test_retries_stop_before_the_function_times_out(
    samples: Path, fault_proxy: FaultProxy, indexer_env: Callable, s3: Any
) -> None:
    """With 1.5 s left and a 1-2 s backoff ahead, the indexer parks instead of sleeping."""
    indexer_env(
        OPENSEARCH_ENDPOINT=fault_proxy.url,
        FAILED_BUCKET=BUCKET,
        RETRY_BASE_MS="2000",
        RETRY_MAX_MS="2000",
        SAFETY_MARGIN_MS="100",
    )
    fault_proxy.script = [("status", 503)] * 10
    event, _ = sample_event(samples)
    started = time.monotonic()
    result = cloudtrail_indexer.handler(event, FakeContext(remaining_ms=1500))
    assert time.monotonic() - started < 1.0
    assert (result["indexed"], result["failed_parked"]) == (0, 16)
    assert len(fault_proxy.requests) == 1
    assert "time running out" in parked(s3)[0]["error"]["gave_up"]


def test_no_time_left_sends_nothing_and_parks(
    samples: Path, fault_proxy: FaultProxy, indexer_env: Callable, s3: Any
) -> None:
    indexer_env(OPENSEARCH_ENDPOINT=fault_proxy.url, FAILED_BUCKET=BUCKET, SAFETY_MARGIN_MS="5000")
    event, _ = sample_event(samples)
    result = cloudtrail_indexer.handler(event, FakeContext(remaining_ms=5500))
    assert (result["indexed"], result["failed_parked"]) == (0, 16)
    assert fault_proxy.requests == []
    assert parked(s3)[0]["error"]["type"] == "time_exhausted"


# --- permanent failures -----------------------------------------------------------------------


def test_rejected_document_is_parked_with_reason(
    samples: Path, opensearch: Search, indexer_env: Callable, s3: Any
) -> None:
    """A record whose eventTime is not a date is rejected by the template (400, mapper error);
    it lands in S3 with the reason while the rest is indexed."""
    indexer_env(FAILED_BUCKET=BUCKET, FAILED_PREFIX="parked/")
    records = cloudtrail_records(samples)
    bad = {**records[3], "eventID": "bad-event-time", "eventTime": "Jul 18, 2014, 3:07:39 PM"}
    event = cwl_event(cwl_payload([json.dumps(r) for r in [*records, bad]]))
    result = cloudtrail_indexer.handler(event, FakeContext())
    assert (result["indexed"], result["failed_parked"]) == (16, 1)
    assert sum(opensearch.indices("cwl-*").values()) == 14

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert len(keys) == 1 and keys[0].startswith("parked/")
    assert keys[0].endswith(".jsonl") and FakeContext.aws_request_id in keys[0]
    (line,) = parked(s3)
    assert line["_id"] == "bad-event-time"
    assert line["index"] == "cwl-2023.11.14"  # no usable eventTime: the log event's day
    assert line["status"] == 400
    assert line["error"]["type"] == "mapper_parsing_exception"
    assert "eventTime" in line["error"]["reason"]
    assert line["attempts"] == 1  # a 400 is not retried
    assert line["log_group"] == "aws-cloudtrail-logs-demogo"
    assert line["document"]["eventTime"] == "Jul 18, 2014, 3:07:39 PM"
    assert json.loads(line["document"]["@message"]) == bad


def test_raises_when_documents_can_be_neither_indexed_nor_parked(
    samples: Path, opensearch: Search, indexer_env: Callable
) -> None:
    records = cloudtrail_records(samples)
    bad = {**records[0], "eventID": "bad", "eventTime": "yesterday"}
    event = cwl_event(cwl_payload([json.dumps(records[0]), json.dumps(bad)]))
    with pytest.raises(RuntimeError, match="FAILED_BUCKET"):
        cloudtrail_indexer.handler(event, FakeContext())
    # The good document was indexed before the raise; Lambda's retry will overwrite it.
    assert opensearch.count("cwl-*") == 1


def test_raises_when_s3_refuses(samples: Path, opensearch: Search, indexer_env: Callable, s3: Any) -> None:
    indexer_env(FAILED_BUCKET="no-such-bucket")
    bad = {**cloudtrail_records(samples)[0], "eventTime": "yesterday"}
    with pytest.raises(Exception, match="NoSuchBucket"):
        cloudtrail_indexer.handler(cwl_event(cwl_payload([json.dumps(bad)])), FakeContext())


def test_request_level_4xx_parks_everything(
    samples: Path, fault_proxy: FaultProxy, indexer_env: Callable, s3: Any
) -> None:
    indexer_env(OPENSEARCH_ENDPOINT=fault_proxy.url, FAILED_BUCKET=BUCKET)
    fault_proxy.script = [("status", 403)]
    event, _ = sample_event(samples)
    result = cloudtrail_indexer.handler(event, FakeContext())
    assert (result["indexed"], result["failed_parked"]) == (0, 16)
    assert len(fault_proxy.requests) == 1
    assert {line["error"]["type"] for line in parked(s3)} == {"injected_403"}


def test_missing_endpoint_parks(samples: Path, indexer_env: Callable, s3: Any) -> None:
    indexer_env(OPENSEARCH_ENDPOINT=None, FAILED_BUCKET=BUCKET)
    event, _ = sample_event(samples)
    result = cloudtrail_indexer.handler(event, FakeContext())
    assert result["failed_parked"] == 16
    assert parked(s3)[0]["error"]["reason"] == "OPENSEARCH_ENDPOINT is not set"


@pytest.mark.parametrize(
    "event",
    [
        {"awslogs": {"data": "not base64 at all!"}},
        {"awslogs": {"data": base64.b64encode(b"not gzip").decode()}},
        {"awslogs": {"data": base64.b64encode(gzip.compress(b"not json")).decode()}},
        {"awslogs": {"data": base64.b64encode(gzip.compress(b"[1]")).decode()}},
        {"awslogs": {}},
        {},
    ],
)
def test_undecodable_event_is_parked(event: dict[str, Any], indexer_env: Callable, s3: Any) -> None:
    indexer_env(FAILED_BUCKET=BUCKET)
    result = cloudtrail_indexer.handler(event, FakeContext())
    assert result["failed_parked"] == 1 and result["indexed"] == 0
    (line,) = parked(s3)
    assert line["error"]["type"] == "undecodable_event"
    assert line["event"] == event


def test_undecodable_event_without_bucket_raises(indexer_env: Callable) -> None:
    with pytest.raises(RuntimeError, match="FAILED_BUCKET"):
        cloudtrail_indexer.handler({"awslogs": {"data": "%%%"}}, FakeContext())


# --- request size, signing, configuration -----------------------------------------------------


def test_bodies_stay_under_max_bulk_bytes(
    samples: Path, opensearch: Search, fault_proxy: FaultProxy, indexer_env: Callable
) -> None:
    indexer_env(OPENSEARCH_ENDPOINT=fault_proxy.url, MAX_BULK_BYTES="8192")
    event, records = sample_event(samples)
    result = cloudtrail_indexer.handler(event, FakeContext())
    assert result["indexed"] == 16
    assert len(fault_proxy.requests) > 3
    for request in fault_proxy.requests:
        assert len(request.body) <= 8192 or len(request.bulk_ids()) == 1
    assert [i for r in fault_proxy.requests if r.is_bulk for i in r.bulk_ids()] == [r["eventID"] for r in records]
    assert sum(opensearch.indices("cwl-*").values()) == 14


def test_413_splits_the_request(
    samples: Path, opensearch: Search, fault_proxy: FaultProxy, indexer_env: Callable
) -> None:
    indexer_env(OPENSEARCH_ENDPOINT=fault_proxy.url)
    fault_proxy.max_body = 12_000
    event, _ = sample_event(samples)
    result = cloudtrail_indexer.handler(event, FakeContext())
    assert result["indexed"] == 16 and result["failed_parked"] == 0
    assert fault_proxy.requests[0].status == 413
    assert all(len(r.body) <= 12_000 for r in fault_proxy.requests if r.status == 200 and r.is_bulk)
    assert sum(opensearch.indices("cwl-*").values()) == 14


def test_requests_are_sigv4_signed(
    samples: Path, opensearch: Search, fault_proxy: FaultProxy, indexer_env: Callable, aws_credentials: None
) -> None:
    """The _bulk request and the _mget that reads back the batch's two repeated events."""
    indexer_env(OPENSEARCH_ENDPOINT=fault_proxy.url, OPENSEARCH_AUTH=None, AWS_REGION="ap-northeast-2")
    event, _ = sample_event(samples)
    assert cloudtrail_indexer.handler(event, FakeContext())["indexed"] == 16
    bulk, mget = fault_proxy.requests
    assert bulk.is_bulk and mget.path.startswith("/_mget?")
    assert sum(opensearch.indices("cwl-*").values()) == 14

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    signer = SigV4Auth(
        Credentials("AKIDLOGPIPETEST", "logpipe-test-secret", "logpipe-test-token"), "es", "ap-northeast-2"
    )
    for request, content_type in ((bulk, "application/x-ndjson"), (mget, "application/json")):
        headers = {k.lower(): v for k, v in request.headers.items()}
        auth = headers["authorization"]
        assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDLOGPIPETEST/")
        assert "/ap-northeast-2/es/aws4_request" in auth
        assert headers["x-amz-security-token"] == "logpipe-test-token"
        assert headers["content-type"] == content_type
        # Recompute the signature over exactly what arrived (method, path, query, headers, body).
        signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
        check = AWSRequest(
            method=request.method,
            url=fault_proxy.url + request.path,
            data=request.body,
            headers={name: headers[name] for name in signed if name != "host"},
        )
        check.context["timestamp"] = headers["x-amz-date"]
        expected = signer.signature(signer.string_to_sign(check, signer.canonical_request(check)), check)
        assert auth.endswith(f"Signature={expected}")
        assert "filter_path=" in request.path


def test_endpoint_forms() -> None:
    config = cloudtrail_indexer.Config.from_env
    assert config({"OPENSEARCH_ENDPOINT": "search-demogo.ap-northeast-2.es.amazonaws.com"}).endpoint == (
        "https://search-demogo.ap-northeast-2.es.amazonaws.com"
    )
    assert config({"OPENSEARCH_ENDPOINT": "http://127.0.0.1:9200/"}).endpoint == "http://127.0.0.1:9200"
    defaults = config({})
    assert (defaults.index_prefix, defaults.max_bulk_bytes, defaults.failed_prefix, defaults.auth) == (
        "cwl",
        5 * 1024 * 1024,
        "cloudtrail-failed/",
        "sigv4",
    )
    with pytest.raises(cloudtrail_indexer.ConfigError):
        config({"MAX_BULK_BYTES": "5MB"})
    with pytest.raises(cloudtrail_indexer.ConfigError):
        config({"OPENSEARCH_AUTH": "basic"})


def test_index_prefix_from_environment(samples: Path, opensearch: Search, indexer_env: Callable) -> None:
    indexer_env(INDEX_PREFIX="cwl-demogo")
    record = cloudtrail_records(samples)[0]
    cloudtrail_indexer.handler(cwl_event(cwl_payload([json.dumps(record)])), FakeContext())
    assert opensearch.indices("cwl-*") == {"cwl-demogo-2022.11.10": 1}
    assert opensearch.field_type("cwl-demogo-2022.11.10", "eventTime") == "date"


def test_sender_and_parker_are_replaceable(
    samples: Path, opensearch: Search, indexer_env: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fake sender that answers 429 twice, then forwards to the real one; a fake parker."""
    calls: list[str] = []
    real_send = cloudtrail_indexer.send_bulk

    def flaky_send(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
        calls.append(url.split("?")[0].rsplit("/", 1)[1])
        if len(calls) <= 2:
            return 429, b'{"error":{"type":"es_rejected_execution_exception","reason":"queue full"},"status":429}'
        return real_send(url, body, headers, timeout)

    stored: dict[str, bytes] = {}
    monkeypatch.setattr(cloudtrail_indexer, "send_bulk", flaky_send)
    monkeypatch.setattr(
        cloudtrail_indexer, "put_failed_object", lambda bucket, key, body, region: stored.update({key: body})
    )
    indexer_env(FAILED_BUCKET="any-bucket")
    records = cloudtrail_records(samples)
    bad = {**records[0], "eventID": "rejected", "eventTime": "not a date"}
    event = cwl_event(cwl_payload([json.dumps(r) for r in [*records, bad]]))
    result = cloudtrail_indexer.handler(event, FakeContext())
    assert (result["indexed"], result["failed_parked"]) == (16, 1)
    # Two 429s, the _bulk that goes through, the _mget of the batch's two repeated events.
    assert calls == ["_bulk", "_bulk", "_bulk", "_mget"]
    (body,) = stored.values()
    (line,) = [json.loads(x) for x in body.splitlines()]
    assert (line["_id"], line["status"], line["error"]["type"]) == ("rejected", 400, "mapper_parsing_exception")
    assert line["attempts"] == 3  # two 429s for the whole batch, then the 400


# --- duplicates: redeliveries counted, replacements seen ----------------------------------------


def _replacement_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "replaced document" in r.getMessage()]


def test_redelivered_records_are_counted_not_duplicated(
    samples: Path, opensearch: Search, indexer_env: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    event, _ = sample_event(samples)
    first = cloudtrail_indexer.handler(event, FakeContext())
    # The samples hold two events twice, identical: the second copy of each is a redelivery.
    assert (first["indexed"], first["created"], first["redelivered"], first["replaced"]) == (16, 14, 2, 0)
    stored = {h["_id"]: h["_source"] for h in opensearch.search("cwl-*", {"match_all": {}})}

    records = cloudtrail_records(samples)
    again = cloudtrail_indexer.handler(
        cwl_event(cwl_payload([json.dumps(r) for r in records], timestamp=1_700_000_600_000)), FakeContext()
    )
    assert (again["indexed"], again["created"], again["redelivered"], again["replaced"]) == (16, 0, 16, 0)
    assert again["failed"] == again["failed_parked"] == 0
    # Nothing was rewritten: same documents, first delivery's @id and @timestamp kept.
    assert {h["_id"]: h["_source"] for h in opensearch.search("cwl-*", {"match_all": {}})} == stored
    assert opensearch.search("cwl-*", {"exists": {"field": "@replaced_id"}}) == []
    assert _replacement_lines(caplog) == []
    summary = [r.getMessage() for r in caplog.records if r.getMessage().startswith("logpipe: indexed")]
    assert summary[-1] == "logpipe: indexed 16 (created 0, replaced 0, redelivered 16), failed 0, parked 0"


def test_same_event_id_other_content_is_replaced_and_logged(
    samples: Path, opensearch: Search, indexer_env: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    record = cloudtrail_records(samples)[3]  # AssumeRole of 2014-07-18
    first = cwl_payload([json.dumps(record)])
    assert cloudtrail_indexer.handler(cwl_event(first), FakeContext())["created"] == 1
    changed = {**record, "sourceIPAddress": "203.0.113.9"}
    second = cwl_payload([json.dumps(changed)], timestamp=1_700_000_900_000)
    second["logEvents"][0]["id"] = "36" + "7" * 54
    result = cloudtrail_indexer.handler(cwl_event(second), FakeContext())
    assert (result["indexed"], result["replaced"], result["created"], result["redelivered"]) == (1, 1, 0, 0)

    old_id, new_id = first["logEvents"][0]["id"], second["logEvents"][0]["id"]
    assert _replacement_lines(caplog) == [
        f"logpipe: replaced document cwl-2014.07.18/{record['eventID']} (old @id {old_id}, new @id {new_id}): "
        "content differs"
    ]
    (hit,) = opensearch.search("cwl-*", {"exists": {"field": "@replaced_id"}})
    assert hit["_id"] == record["eventID"]
    assert hit["_source"]["@replaced_id"] == old_id
    assert hit["_source"]["@id"] == new_id
    assert hit["_source"]["sourceIPAddress"] == "203.0.113.9"
    assert json.loads(hit["_source"]["@message"]) == changed
    assert opensearch.count("cwl-*") == 1


def test_conflicts_mixed_with_other_item_errors(
    samples: Path, opensearch: Search, fault_proxy: FaultProxy, indexer_env: Callable, s3: Any
) -> None:
    """One batch: a redelivery, a replacement, a document the template rejects and one answered
    429 (not written) — each ends where it should, and the 409s are never parked."""
    records = cloudtrail_records(samples)
    same, other, rejected, throttled, fresh = records[0], records[3], records[6], records[7], records[9]
    indexer_env(OPENSEARCH_ENDPOINT=fault_proxy.url, FAILED_BUCKET=BUCKET)
    cloudtrail_indexer.handler(cwl_event(cwl_payload([json.dumps(same), json.dumps(other)])), FakeContext())
    fault_proxy.requests.clear()

    batch = [
        same,
        {**other, "userAgent": "aws-cli/2.15.0"},
        {**rejected, "eventTime": "Jul 18, 2014, 3:07:39 PM"},
        throttled,
        fresh,
    ]
    fault_proxy.script = [("fail_items", {3: (429, "es_rejected_execution_exception")})]
    result = cloudtrail_indexer.handler(
        cwl_event(cwl_payload([json.dumps(r) for r in batch], timestamp=1_700_000_900_000)), FakeContext()
    )
    assert {k: result[k] for k in ("indexed", "created", "replaced", "redelivered", "failed", "failed_parked")} == {
        "indexed": 4,
        "created": 2,
        "replaced": 1,
        "redelivered": 1,
        "failed": 1,
        "failed_parked": 1,
    }
    (line,) = parked(s3)
    assert (line["_id"], line["status"], line["error"]["type"]) == (
        rejected["eventID"],
        400,
        "mapper_parsing_exception",
    )

    sent = [(r.path.split("?")[0], r.bulk_actions() if r.is_bulk else json.loads(r.body)) for r in fault_proxy.requests]
    ids = [r["eventID"] for r in batch]
    days = [f"cwl-{r['eventTime'][:10].replace('-', '.')}" for r in batch]
    days[2] = "cwl-2023.11.14"  # no usable eventTime: the log event's day
    assert sent[0] == ("/_bulk", [("create", {"_index": day, "_id": i}) for day, i in zip(days, ids, strict=True)])
    # The two 409s are read back at once; only the one whose record differs is written again.
    assert sent[1][0] == "/_mget" and [d["_id"] for d in sent[1][1]["docs"]] == [ids[0], ids[1]]
    assert sent[2] == ("/_bulk", [("index", {"_index": days[1], "_id": ids[1]})])
    assert sent[3] == ("/_bulk", [("create", {"_index": days[3], "_id": ids[3]})])
    assert len(sent) == 4

    hits = {h["_id"]: h["_source"] for h in opensearch.search("cwl-*", {"match_all": {}})}
    assert sorted(hits) == sorted([ids[0], ids[1], ids[3], ids[4]])
    assert hits[ids[1]]["userAgent"] == "aws-cli/2.15.0" and "@replaced_id" in hits[ids[1]]
    assert "@replaced_id" not in hits[ids[0]] and "@replaced_id" not in hits[ids[3]]


def test_unreadable_conflicts_are_retried_then_parked(
    samples: Path, opensearch: Search, fault_proxy: FaultProxy, indexer_env: Callable, s3: Any
) -> None:
    """A 409 whose existing document cannot be read back is neither dropped nor overwritten
    blindly: retried like any transient failure, then parked with the reason."""
    record = cloudtrail_records(samples)[0]
    indexer_env(OPENSEARCH_ENDPOINT=fault_proxy.url, FAILED_BUCKET=BUCKET, MAX_ATTEMPTS="2")
    cloudtrail_indexer.handler(cwl_event(cwl_payload([json.dumps(record)])), FakeContext())

    fault_proxy.mget_script = [("status", 503)]
    result = cloudtrail_indexer.handler(cwl_event(cwl_payload([json.dumps(record)])), FakeContext())
    assert (result["redelivered"], result["failed"]) == (1, 0)  # read on the second round

    fault_proxy.mget_script = [("status", 503)] * 2
    result = cloudtrail_indexer.handler(cwl_event(cwl_payload([json.dumps(record)])), FakeContext())
    assert (result["indexed"], result["failed_parked"]) == (0, 1)
    (line,) = parked(s3)
    assert line["status"] == 503 and "_mget" in line["error"]["while"]
    assert line["error"]["gave_up"] == "gave up after 2 attempts"
    assert opensearch.count("cwl-*") == 1


def test_lone_surrogate_does_not_sink_the_batch(samples: Path, opensearch: Search, indexer_env: Callable) -> None:
    """A ``\\ud800`` escape (valid JSON, not encodable as UTF-8) in one record or message: that
    document is indexed with the escape, and the batch with it."""
    record = cloudtrail_records(samples)[3]
    kept = {**record, "userAgent": "agent-\ud800"}  # written as CloudTrail wrote it
    rewritten = {**kept, "eventID": "rewritten", "requestParameters": "wrapped-\ud800"}  # re-serialised
    messages = [json.dumps(kept), json.dumps(rewritten), "plain text \ud800"]
    result = cloudtrail_indexer.handler(cwl_event(cwl_payload(messages)), FakeContext())
    assert (result["indexed"], result["failed"]) == (3, 0)
    hits = {h["_id"]: h["_source"] for h in opensearch.search("cwl-*", {"match_all": {}})}
    assert hits[record["eventID"]]["userAgent"] == "agent-\ud800"
    assert hits["rewritten"]["requestParameters"] == {"_value": "wrapped-\ud800"}
    assert "plain text \ud800" in [h["@message"] for h in hits.values()]
