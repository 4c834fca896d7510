"""The Firehose transformation contract, shared by the three transform handlers."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from logpipe.lambdas import _firehose, flowlog_transform, securityhub_transform, waf_transform

from .support import assert_contract, decoded, firehose_event

HANDLERS = {
    "waf": waf_transform.handler,
    "flowlog": flowlog_transform.handler,
    "securityhub": securityhub_transform.handler,
}


@pytest.fixture(autouse=True)
def _default_log_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOG_FORMAT", raising=False)


@pytest.mark.parametrize("name", HANDLERS)
def test_empty_batch(name: str) -> None:
    assert HANDLERS[name](firehose_event([]), None) == {"records": []}


@pytest.mark.parametrize("name", HANDLERS)
@pytest.mark.parametrize("event", [None, {}, {"records": None}, {"records": "x"}, [], "records"])
def test_malformed_event_never_raises(name: str, event: Any) -> None:
    assert HANDLERS[name](event, None) == {"records": []}


@pytest.mark.parametrize("name", HANDLERS)
def test_bad_records_fail_alone(name: str) -> None:
    good = {
        "waf": b'{"timestamp":1576280412771,"action":"ALLOW"}',
        "flowlog": b"2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
        "securityhub": json.dumps(
            {
                "detail": {
                    "findings": [{"Id": "f", "CreatedAt": "2020-01-01T00:00:00Z", "UpdatedAt": "2020-01-01T00:00:00Z"}]
                }
            }
        ).encode(),
    }[name]
    event = firehose_event([good, good, good, good, good, good])
    records = event["records"]
    records[1]["data"] = "not base64!!"  # bad base64 alphabet
    records[2]["data"] = base64.b64encode(b'{"truncated": ').decode()  # bad JSON / bad line
    records[3]["data"] = "QUJD="  # bad padding
    del records[4]["data"]  # no data at all
    records[5]["data"] = 12345  # not a string
    response = HANDLERS[name](event, None)
    assert [r["recordId"] for r in response["records"]] == [r["recordId"] for r in records]
    results = [r["result"] for r in response["records"]]
    assert results == ["Ok"] + ["ProcessingFailed"] * 5
    # A failed record hands back its original data (or nothing when it had none usable).
    assert response["records"][2]["data"] == records[2]["data"]
    assert response["records"][4]["data"] == ""
    assert response["records"][5]["data"] == ""


def test_record_that_is_not_an_object_fails_alone() -> None:
    event = firehose_event([b'{"timestamp":1576280412771}'])
    event["records"].insert(0, "just a string")
    response = waf_transform.handler(event, None)
    assert [r["result"] for r in response["records"]] == ["ProcessingFailed", "Ok"]
    assert response["records"][0]["recordId"] is None


def test_output_is_one_json_document_and_newline() -> None:
    event = firehose_event([b'{"timestamp":1576280412771,"httpRequest":{"country":"\xc3\xa9"}}'])
    response = waf_transform.handler(event, None)
    assert_contract(event, response)
    data = decoded(response["records"][0])
    assert data == '{"timestamp":"2019-12-13T23:40:12.771Z","httpRequest":{"country":"é"}}\n'.encode()


def test_response_stays_under_6_mb(monkeypatch: pytest.MonkeyPatch) -> None:
    """Output that would overflow the response limit fails the overflowing records instead."""
    # Each WAF record grows a little in transformation; 900 KB records x 8 = 7.2 MB of input
    # data (more than one invocation carries, but the point is the budget arithmetic).
    big = json.dumps({"timestamp": 1576280412771, "pad": "x" * 900_000}).encode()
    event = firehose_event([big] * 8)
    response = waf_transform.handler(event, None)
    size = len(json.dumps(response))
    assert size <= _firehose.RESPONSE_BUDGET
    results = [r["result"] for r in response["records"]]
    assert len(results) == 8
    ok = results.count("Ok")
    assert ok == 4  # 4 x ~1.2 MB of base64 fit in 6 MB, the fifth does not
    assert results == ["Ok"] * ok + ["ProcessingFailed"] * (8 - ok)
    assert all(r["data"] == "" for r in response["records"][ok:])


def test_budget_reserves_room_for_every_record(monkeypatch: pytest.MonkeyPatch) -> None:
    """Even with a tiny budget, every record gets an answer and the total fits."""
    monkeypatch.setattr(_firehose, "RESPONSE_BUDGET", 2000)
    event = firehose_event([b'{"timestamp":1576280412771,"pad":"' + b"y" * 300 + b'"}'] * 10)
    response = waf_transform.handler(event, None)
    assert len(response["records"]) == 10
    assert len(json.dumps(response)) <= 2000
    results = [r["result"] for r in response["records"]]
    assert "Ok" in results and "ProcessingFailed" in results


def test_time_helpers_are_exact() -> None:
    # Values checked with GNU date: `date -u -d @1576280412` → 2019-12-13T23:40:12.
    assert _firehose.epoch_millis_to_iso(1576280412771) == "2019-12-13T23:40:12.771Z"
    assert _firehose.epoch_millis_to_iso(0) == "1970-01-01T00:00:00.000Z"
    assert _firehose.epoch_millis_to_iso(-1) == "1969-12-31T23:59:59.999Z"
    assert _firehose.epoch_millis_to_iso(951782400000) == "2000-02-29T00:00:00.000Z"
    assert _firehose.epoch_millis_to_iso(253402300799999) == "9999-12-31T23:59:59.999Z"
    # 1/1000 steps that binary floats cannot represent come out exact.
    assert _firehose.epoch_millis_to_iso(1632420429309) == "2021-09-23T18:07:09.309Z"
    assert _firehose.epoch_seconds_to_iso(1418530010) == "2014-12-14T04:06:50Z"
    with pytest.raises(OverflowError):
        _firehose.epoch_millis_to_iso(253402300800000 * 1000)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2019-12-13T23:40:12.771Z", True),
        ("2021-02-04T17:51:55Z", True),
        ("2019-12-13T23:40:12.771000+0000", True),  # the lab function's output
        ("2019-12-13", True),
        ("2017-03-16T19:20:177Z", False),  # the malformed Route 53 doc value
        ("2019-13-01T00:00:00Z", False),
        ("2019-12-13 23:40:12", False),
        ("Oct 2, 2019, 11:12:29 PM", False),
        ("1576280412771", False),
    ],
)
def test_is_iso_datetime(value: str, ok: bool) -> None:
    assert _firehose.is_iso_datetime(value) is ok
