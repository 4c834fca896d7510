"""What older engines refuse, on the stand-in started as that version and on the real engine that has it.

The same assertions run against the emulated version and, where it can run here, the real OpenSearch
node of that version (fetched from Maven Central): a difference between them fails one of the two.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from logpipe.sandbox.opensearch_standin import OpenSearchStandin
from tests.conftest import MASTER_PASSWORD
from tests.support import index_templates

ADMIN = ("admin", MASTER_PASSWORD)
NULL_REASON = "tried to parse field [requestParameters] as object, but got EOF"


@pytest.fixture
def engine_2_11(request: pytest.FixtureRequest, osmem_base: Any) -> Iterator[OpenSearchStandin]:
    """OpenSearch 2.11 behind the stand-in: emulated on osmem-server, or the real node."""
    if request.param == "emulated":
        clone = osmem_base.clone()
        server = OpenSearchStandin(clone.url, master_password=MASTER_PASSWORD, engine_version="OpenSearch_2.11")
    else:
        from tests.real_engine import exclusive

        real = request.getfixturevalue("real_engine_2_11")
        clone = None
        turn = exclusive(real)
        turn.__enter__()
        server = OpenSearchStandin(
            real.url,
            master_password=MASTER_PASSWORD,
            upstream_ca=real.ca_cert,
            upstream_auth=real.auth,
            security_upstream=True,
        )
    server.start()
    try:
        yield server
    finally:
        if clone is None:
            requests.delete(server.url + "/cwl-*", auth=ADMIN, timeout=30)
            requests.delete(server.url + "/_index_template/logpipe-*", auth=ADMIN, timeout=30)
        server.stop()
        if clone is not None:
            clone.close()
        else:
            turn.__exit__(None, None, None)


def bulk(url: str, index: str, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    lines = "".join(
        json.dumps({"index": {"_index": index, "_id": str(n)}}) + "\n" + json.dumps(doc) + "\n"
        for n, doc in enumerate(docs)
    )
    reply = requests.post(
        f"{url}/_bulk?refresh=true",
        data=lines,
        auth=ADMIN,
        headers={"Content-Type": "application/x-ndjson"},
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    return [next(iter(item.values())) for item in reply.json()["items"]]


@pytest.mark.parametrize("engine_2_11", ["emulated", "real"], indirect=True)
def test_before_2_17_a_null_flat_object_field_fails_its_document_alone(engine_2_11: OpenSearchStandin) -> None:
    template = index_templates(mode="native")["logpipe-cloudtrail"]
    put = requests.put(f"{engine_2_11.url}/_index_template/logpipe-cloudtrail", json=template, auth=ADMIN, timeout=60)
    assert put.status_code == 200, put.text
    docs = [
        {"eventTime": "2026-01-01T00:00:00Z", "eventID": "a", "requestParameters": None},
        {"eventTime": "2026-01-01T00:00:00Z", "eventID": "b", "requestParameters": {"bucketName": "x", "key": None}},
        {"eventTime": "2026-01-01T00:00:00Z", "eventID": "c", "requestParameters": {"list": [None, "z"]}},
        {"eventTime": "2026-01-01T00:00:00Z", "eventID": "d"},
    ]

    items = bulk(engine_2_11.url, "cwl-2026.01.01", docs)

    assert [i["status"] for i in items] == [400, 201, 201, 201]
    assert items[0]["error"]["type"] == "mapper_parsing_exception"
    assert NULL_REASON in items[0]["error"]["reason"]
    # With the no-nulls variant logpipe picks for 2.7-2.16, the indexer drops the null: nothing fails.
    assert [i["status"] for i in bulk(engine_2_11.url, "cwl-2026.01.02", [no_nulls(d) for d in docs])] == [201] * 4


def no_nulls(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as the CloudTrail indexer shapes it with FLAT_OBJECT_MODE=no-nulls."""
    from logpipe.lambdas import _flat_object
    from logpipe.lambdas.cloudtrail_indexer import FLAT_OBJECT_FIELDS

    out = json.loads(json.dumps(doc))
    _flat_object.apply(out, _flat_object.split_paths(FLAT_OBJECT_FIELDS), "no-nulls", wrap_scalars=True)
    return out


@pytest.fixture
def signed_2_11(request: pytest.FixtureRequest, osmem_base: Any) -> Iterator[OpenSearchStandin]:
    """OpenSearch 2.11 behind the stand-in, taking the indexer's SigV4 requests as its writer (master)."""
    caller = "arn:aws:iam::123456789012:role/demogo-cloudtrail-indexer-role"
    options: dict[str, Any] = {"master_password": MASTER_PASSWORD, "master_iam_arn": caller, "default_iam_arn": caller}
    if request.param == "emulated":
        clone = osmem_base.clone()
        server = OpenSearchStandin(clone.url, engine_version="OpenSearch_2.11", **options)
        server.start()
        try:
            yield server
        finally:
            server.stop()
            clone.close()
        return
    from tests.real_engine import exclusive

    real = request.getfixturevalue("real_engine_2_11")
    with exclusive(real):
        server = OpenSearchStandin(
            real.url, upstream_ca=real.ca_cert, upstream_auth=real.auth, security_upstream=True, **options
        )
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.mark.parametrize("signed_2_11", ["emulated", "real"], indirect=True)
@pytest.mark.parametrize(("mode", "refused"), [("no-nulls", 0), ("native", None)])
def test_cloudtrail_indexer_on_2_11_with_each_mode(
    signed_2_11: OpenSearchStandin, mode: str, refused: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On 2.11 the indexer must drop the nulls (no-nulls, what `up` picks there): every real record is
    indexed; with the 2.17 shape (native) exactly the records whose flat_object field is null fail."""
    from logpipe.lambdas import cloudtrail_indexer
    from tests.conftest import SAMPLES
    from tests.lambdas.support import FakeContext, cloudtrail_records, cwl_event, cwl_payload

    template = index_templates(mode="native")["logpipe-cloudtrail"]
    put = requests.put(f"{signed_2_11.url}/_index_template/logpipe-cloudtrail", json=template, auth=ADMIN, timeout=60)
    assert put.status_code == 200, put.text
    records = cloudtrail_records(SAMPLES)
    null_ids = {
        r["eventID"]
        for r in records
        if any(f in r and r[f] is None for f in cloudtrail_indexer.FLAT_OBJECT_FIELDS if "." not in f)
    }
    assert null_ids, "the samples carry nulls"
    for name, value in {
        "OPENSEARCH_ENDPOINT": signed_2_11.url,
        "OPENSEARCH_AUTH": "sigv4",
        "AWS_REGION": "ap-northeast-2",
        "AWS_ACCESS_KEY_ID": "AKIDLOGPIPETEST",
        "AWS_SECRET_ACCESS_KEY": "logpipe-test-secret",
        "FLAT_OBJECT_MODE": mode,
        "RETRY_BASE_MS": "1",
        "RETRY_MAX_MS": "5",
        "SAFETY_MARGIN_MS": "1000",
        "MAX_ATTEMPTS": "2",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("FAILED_BUCKET", raising=False)

    event = cwl_event(cwl_payload([json.dumps(r) for r in records]))
    if refused == 0:
        result = cloudtrail_indexer.handler(event, FakeContext())
        assert result["failed"] == 0 and result["indexed"] == len(records), result
    else:
        # Without a bucket to park them in, the records the engine refuses make the invocation fail
        # (so Lambda retries it), with how many.
        with pytest.raises(Exception, match=f"^{len(null_ids)} documents could not be indexed"):
            cloudtrail_indexer.handler(event, FakeContext())
    requests.post(f"{signed_2_11.url}/cwl-*/_refresh", auth=ADMIN, timeout=30)
    ids = {
        h["_id"]
        for h in requests.post(
            f"{signed_2_11.url}/cwl-*/_search", json={"size": 100, "_source": False}, auth=ADMIN, timeout=30
        ).json()["hits"]["hits"]
    }
    unique = {r["eventID"] for r in records}
    assert ids == (unique if refused == 0 else unique - null_ids)
