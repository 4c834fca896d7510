"""WAF transform on the real WAF log samples."""

from __future__ import annotations

import json
from pathlib import Path

from logpipe.lambdas import waf_transform

from .support import assert_contract, decoded, firehose_event

# timestamp → expected ISO, the seconds part checked with GNU date (`date -u -d @<s>`), the
# milliseconds being the last three digits.
EXPECTED = {
    1576280412771: "2019-12-13T23:40:12.771Z",
    1592357192516: "2020-06-17T01:26:32.516Z",
    1592361810888: "2020-06-17T02:43:30.888Z",
    1632420429309: "2021-09-23T18:07:09.309Z",
    1632420416512: "2021-09-23T18:06:56.512Z",
    1648179682260: "2022-03-25T03:41:22.260Z",
    1748208718574: "2025-05-25T21:31:58.574Z",
}


def _lines(samples: Path) -> list[bytes]:
    return [line.encode() for line in (samples / "waf.jsonl").read_text().splitlines() if line.strip()]


def test_every_sample_record(samples: Path) -> None:
    lines = _lines(samples)
    assert len(lines) == 8
    event = firehose_event(lines)
    response = waf_transform.handler(event, None)
    assert_contract(event, response)
    for line, out in zip(lines, response["records"], strict=True):
        assert out["result"] == "Ok"
        original = json.loads(line)
        doc = json.loads(decoded(out))
        assert doc["timestamp"] == EXPECTED[original["timestamp"]]
        # Everything else intact, key order included.
        assert list(doc) == list(original)
        assert {k: v for k, v in doc.items() if k != "timestamp"} == {
            k: v for k, v in original.items() if k != "timestamp"
        }


def test_first_sample_value(samples: Path) -> None:
    response = waf_transform.handler(firehose_event(_lines(samples)[:1]), None)
    assert json.loads(decoded(response["records"][0]))["timestamp"] == "2019-12-13T23:40:12.771Z"


def test_captcha_solve_timestamp_is_left_alone(samples: Path) -> None:
    """Line 6 has a seconds-based captchaResponse.solveTimestamp: not a time field, untouched."""
    lines = _lines(samples)
    sixth = json.loads(lines[5])
    assert "captchaResponse" in sixth
    doc = json.loads(decoded(waf_transform.handler(firehose_event([lines[5]]), None)["records"][0]))
    assert doc["captchaResponse"] == sixth["captchaResponse"]


def test_iso_timestamp_passes_through() -> None:
    for value in ("2019-12-13T23:40:12.771Z", "2019-12-13T23:40:12.771000+0000"):
        payload = json.dumps({"timestamp": value, "action": "BLOCK"}).encode()
        out = waf_transform.handler(firehose_event([payload]), None)["records"][0]
        assert out["result"] == "Ok"
        assert json.loads(decoded(out)) == {"timestamp": value, "action": "BLOCK"}


def test_transformed_output_transforms_to_itself(samples: Path) -> None:
    """A redelivered, already-transformed record comes out unchanged."""
    once = waf_transform.handler(firehose_event(_lines(samples)), None)["records"]
    twice = waf_transform.handler(firehose_event([decoded(r) for r in once]), None)["records"]
    assert [decoded(r) for r in twice] == [decoded(r) for r in once]


def test_other_timestamp_forms() -> None:
    cases = [
        (b'{"timestamp":"1576280412771"}', "Ok", "2019-12-13T23:40:12.771Z"),
        (b'{"timestamp":1576280412771.0}', "Ok", "2019-12-13T23:40:12.771Z"),
        (b'{"timestamp":1576280412771.5}', "ProcessingFailed", None),
        (b'{"timestamp":"Dec 13, 2019"}', "ProcessingFailed", None),
        (b'{"timestamp":null}', "ProcessingFailed", None),
        (b'{"timestamp":true}', "ProcessingFailed", None),
        (b'{"action":"ALLOW"}', "ProcessingFailed", None),
        (b'{"timestamp":99999999999999999999}', "ProcessingFailed", None),  # beyond year 9999
        (b"[1576280412771]", "ProcessingFailed", None),
        (b'{"timestamp":1576280412771', "ProcessingFailed", None),
        (b"", "ProcessingFailed", None),
        (b"\xff\xfe not utf-8", "ProcessingFailed", None),
    ]
    response = waf_transform.handler(firehose_event([c[0] for c in cases]), None)
    for (_, result, iso), out in zip(cases, response["records"], strict=True):
        assert out["result"] == result
        if iso:
            assert json.loads(decoded(out))["timestamp"] == iso


def test_lab_function_output_differs_only_in_form(samples: Path) -> None:
    """The lab's walkthrough function wrote '%Y-%m-%dT%H:%M:%S.%f+0000'; same instant, ISO form."""
    doc = json.loads(decoded(waf_transform.handler(firehose_event(_lines(samples)[:1]), None)["records"][0]))
    assert doc["timestamp"].replace("Z", "000+0000") == "2019-12-13T23:40:12.771000+0000"
