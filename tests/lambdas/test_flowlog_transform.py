"""Flow log transform on the real VPC flow log samples (default, v3 and v5 custom formats)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from logpipe.lambdas import flowlog_transform

from .support import assert_contract, decoded, firehose_event


def _aws_format(names: str) -> str:
    """Field names → the AWS ``${name}`` syntax of a flow log's LogFormat."""
    return " ".join("${" + name + "}" for name in names.split(" "))


# The custom formats of the two AWS doc samples, as their header lines list them.
V5_FORMAT = _aws_format(
    "version srcaddr dstaddr srcport dstport protocol start end type packets bytes account-id vpc-id subnet-id "
    "instance-id interface-id region az-id sublocation-type sublocation-id action tcp-flags pkt-srcaddr "
    "pkt-dstaddr pkt-src-aws-service pkt-dst-aws-service traffic-path flow-direction log-status"
)
V3_FORMAT = _aws_format(
    "version vpc-id subnet-id instance-id interface-id account-id type srcaddr dstaddr srcport dstport "
    "pkt-srcaddr pkt-dstaddr protocol bytes packets start end action tcp-flags log-status"
)


@pytest.fixture(autouse=True)
def _default_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOG_FORMAT", raising=False)


def _run(lines: list[str] | list[bytes]) -> list[dict]:
    datas = [line if isinstance(line, bytes) else line.encode() for line in lines]
    event = firehose_event(datas)
    response = flowlog_transform.handler(event, None)
    assert_contract(event, response)
    return response["records"]


def _docs(lines: list[str]) -> list[dict | None]:
    return [json.loads(decoded(r)) if r["result"] == "Ok" else None for r in _run(lines)]


def test_default_format_sample_file(samples: Path) -> None:
    lines = (samples / "vpc_flow.txt").read_text().splitlines()
    out = _run(lines)
    assert len(out) == 25
    assert out[0]["result"] == "Dropped"  # the S3 header line
    assert [r["result"] for r in out[1:]] == ["Ok"] * 24
    docs = [json.loads(decoded(r)) for r in out[1:]]

    # Line 2, checked by hand against the v2 field table (start/end with GNU date).
    assert docs[0] == {
        "version": 2,
        "account-id": "123456789010",
        "interface-id": "eni-1235b8ca123456789",
        "srcaddr": "172.31.16.139",
        "dstaddr": "172.31.16.21",
        "srcport": 20641,
        "dstport": 22,
        "protocol": 6,
        "packets": 20,
        "bytes": 4249,
        "start": "2014-12-14T04:06:50Z",
        "end": "2014-12-14T04:07:50Z",
        "action": "ACCEPT",
        "log-status": "OK",
    }
    # NODATA: every "-" left out, log-status kept.
    assert docs[2] == {
        "version": 2,
        "account-id": "123456789010",
        "interface-id": "eni-1235b8ca123456789",
        "start": "2015-05-10T18:01:16Z",
        "end": "2015-05-10T18:02:14Z",
        "log-status": "NODATA",
    }
    assert docs[3]["log-status"] == "SKIPDATA" and "action" not in docs[3]
    # IPv6 line.
    assert docs[6]["srcaddr"] == "2001:db8:1234:a100:8d6e:3477:df66:f105"
    assert (docs[6]["start"], docs[6]["end"]) == ("2016-10-31T11:35:08Z", "2016-10-31T11:37:00Z")
    # A real capture (CLO), UDP.
    assert docs[10] == {
        "version": 2,
        "account-id": "123456789012",
        "interface-id": "eni-0b7ee7497ac15992e",
        "srcaddr": "205.185.127.13",
        "dstaddr": "10.255.1.170",
        "srcport": 52284,
        "dstport": 9034,
        "protocol": 17,
        "packets": 1,
        "bytes": 147,
        "start": "2022-05-04T06:41:49Z",
        "end": "2022-05-04T06:41:51Z",
        "action": "ACCEPT",
        "log-status": "OK",
    }
    assert sum(d["log-status"] == "NODATA" for d in docs) == 8


def test_message_wrapper_from_direct_firehose_capture(samples: Path) -> None:
    """Flow logs delivered straight to Firehose arrive as {"message": "<line>"} (Splunk capture)."""
    event = json.loads((samples / "firehose_transform_event_vpcflow_direct.json").read_text())
    response = flowlog_transform.handler(event, None)
    assert_contract(event, response)
    assert [r["result"] for r in response["records"]] == ["Ok"] * 4
    first = json.loads(decoded(response["records"][0]))
    assert first == {
        "version": 2,
        "account-id": "647604195155",
        "interface-id": "eni-05fdd58317a3a58e4",
        "srcaddr": "10.30.2.238",
        "dstaddr": "10.30.1.217",
        "srcport": 8089,
        "dstport": 39016,
        "protocol": 6,
        "packets": 22,
        "bytes": 10527,
        "start": "2022-01-26T01:32:12Z",
        "end": "2022-01-26T01:33:12Z",
        "action": "ACCEPT",
        "log-status": "OK",
    }


def test_cwl_flow_lines_as_bare_text(samples: Path) -> None:
    payload = json.loads((samples / "cwl_subscription_payload_vpcflow_otel.json").read_text())
    docs = _docs([event["message"] for event in payload["logEvents"]])
    assert docs[1]["dstport"] == 3389 and docs[1]["action"] == "REJECT"


def test_custom_v5_format(samples: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_FORMAT", V5_FORMAT)
    lines = (samples / "vpc_flow_custom.txt").read_text().splitlines()
    out = _run(lines)
    assert [r["result"] for r in out] == ["Dropped", "Ok", "Ok"]
    ingress, egress = (json.loads(decoded(r)) for r in out[1:])
    assert ingress == {
        "version": 5,
        "srcaddr": "52.95.128.179",
        "dstaddr": "10.0.0.71",
        "srcport": 80,
        "dstport": 34210,
        "protocol": 6,
        "start": "2021-03-26T03:28:12Z",
        "end": "2021-03-26T03:29:09Z",
        "type": "IPv4",
        "packets": 14,
        "bytes": 15044,
        "account-id": "123456789012",
        "vpc-id": "vpc-abcdefab012345678",
        "subnet-id": "subnet-aaaaaaaa012345678",
        "instance-id": "i-0c50d5961bcb2d47b",
        "interface-id": "eni-1235b8ca123456789",
        "region": "ap-southeast-2",
        "az-id": "apse2-az3",
        "action": "ACCEPT",
        "tcp-flags": 19,
        "pkt-srcaddr": "52.95.128.179",
        "pkt-dstaddr": "10.0.0.71",
        "pkt-src-aws-service": "S3",
        "flow-direction": "ingress",
        "log-status": "OK",
    }
    assert egress["traffic-path"] == 8 and egress["pkt-dst-aws-service"] == "S3"
    assert "pkt-src-aws-service" not in egress and "sublocation-id" not in egress


def test_custom_v3_format_with_double_space(samples: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_FORMAT", V3_FORMAT)
    lines = (samples / "vpc_flow_custom_v3_tcpflags.txt").read_text().splitlines()
    assert "  " in lines[-1]
    out = _run(lines)
    assert [r["result"] for r in out] == ["Dropped"] + ["Ok"] * 8
    docs = [json.loads(decoded(r)) for r in out[1:]]
    assert [d["tcp-flags"] for d in docs] == [2, 18, 2, 18, 1, 1, 3, 19]
    assert docs[5]["bytes"] == 23294588 and docs[5]["packets"] == 15774
    assert docs[7]["dstport"] == 43638 and docs[7]["pkt-srcaddr"] == "10.0.0.62"
    assert (docs[7]["start"], docs[7]["end"]) == ("2019-08-27T19:12:13Z", "2019-08-27T19:13:13Z")


def test_wrong_format_fails_lines_not_batch(samples: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """v5 lines under the default format: field count mismatch → ProcessingFailed each."""
    lines = (samples / "vpc_flow_custom.txt").read_text().splitlines()[1:]
    default_line = (samples / "vpc_flow.txt").read_text().splitlines()[1]
    out = _run([*lines, default_line])
    assert [r["result"] for r in out] == ["ProcessingFailed", "ProcessingFailed", "Ok"]


HEADER_V2 = b"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action"
HEADER_V2 += b" log-status"
NODATA = b"2 1 eni-1 - - - - - - - 1431280876 1431280934 - NODATA"
SHORT = b"2 123456789010 eni-1 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT"


@pytest.mark.parametrize(
    ("data", "result"),
    [
        (SHORT, "ProcessingFailed"),  # 13 fields for a 14-field format
        (SHORT + b" OK EXTRA", "ProcessingFailed"),  # 15
        (SHORT.replace(b" 20641 ", b" http "), "ProcessingFailed"),
        (SHORT.replace(b" 20641 ", b" -5 "), "ProcessingFailed"),
        (b"", "ProcessingFailed"),
        (b"   \n", "ProcessingFailed"),
        (b'{"message": 5}', "ProcessingFailed"),
        (b'{"other": "x"}', "ProcessingFailed"),
        (b'{"message": "' + NODATA + b'"', "ProcessingFailed"),  # truncated JSON
        (NODATA + b"\n" + NODATA, "ProcessingFailed"),  # two lines in one record
        (b"\x1f\x8b\x08\x00garbage", "ProcessingFailed"),
        (NODATA + b"\n", "Ok"),
        (b'{"message":"' + NODATA + b'"}', "Ok"),
        (HEADER_V2, "Dropped"),
        (b"version srcaddr dstaddr", "Dropped"),  # a header of another format is still a header
    ],
)
def test_malformed_and_edge_records(data: bytes, result: str) -> None:
    assert _run([data])[0]["result"] == result


def test_gzip_cwl_records_fail_without_raising(samples: Path) -> None:
    """CWL → Firehose payloads (gzip, several log events per record) cannot become one doc each."""
    event = json.loads((samples / "firehose_transform_event.json").read_text())
    response = flowlog_transform.handler(event, None)
    assert_contract(event, response)
    assert {r["result"] for r in response["records"]} == {"ProcessingFailed"}


def test_bad_log_format_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ("version account-id", "${version} ${version}", "${version} junk ${end}"):
        monkeypatch.setenv("LOG_FORMAT", bad)
        with pytest.raises(ValueError, match="LOG_FORMAT"):
            flowlog_transform.handler(firehose_event([b"2"]), None)


def test_log_format_read_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_FORMAT", "${srcaddr} ${start} ${unknown-new-field}")
    doc = json.loads(decoded(_run(["10.0.0.1 1418530010 abc"])[0]))
    assert doc == {"srcaddr": "10.0.0.1", "start": "2014-12-14T04:06:50Z", "unknown-new-field": "abc"}
    monkeypatch.delenv("LOG_FORMAT")
    assert _run(["10.0.0.1 1418530010 abc"])[0]["result"] == "ProcessingFailed"


def _outcome(func: Callable[[], bytes]) -> tuple[str, bytes | None]:
    try:
        return "ok", func()
    except flowlog_transform._firehose.Drop:
        return "dropped", None
    except (ValueError, OverflowError) as exc:
        return type(exc).__name__, None


TRICKY_V2 = [
    "2 123456789010 eni-1 172.31.16.139 172.31.16.21 020641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
    "2 123456789010 eni-1 172.31.16.139 172.31.16.21 20641 22 6 20 4249 01418530010 1418530070 ACCEPT OK",
    '2 123456789010 eni-"1 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK',
    "2 123456789010 eni-\\1 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
    "2 123456789010 eni-é 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
    "2 123456789010 -eni 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
    "2 123456789010 eni-1 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 - -",
    "2\u00a0123456789010 eni-1 - - - - - - - 1431280876 1431280934 - NODATA",
    "2 123456789010 eni-1 - - - - - - - 99999999999999999999 1431280934 - NODATA",
    "2 123456789010 eni-1 - - - - - - - 1431280876 1431280934 -",
    HEADER_V2.decode(),
]


def _framings(line: str) -> list[bytes]:
    """The ways one line can reach the transform: bare, in VPC Flow Logs' compact wrapper, with
    a space after the colon, JSON-escaped (non-ASCII as \\uXXXX), with padding and line ends."""
    return [
        line.encode(),
        json.dumps({"message": line}, separators=(",", ":"), ensure_ascii=False).encode(),
        json.dumps({"message": line}).encode(),
        b" \t" + line.encode() + b"\r\n",
        b'\n{"message":"  ' + line.encode() + b' "} ',
        ("{" + line).encode(),
        line.replace(" ", "\t").encode(),
        line.replace(" ", "\x0b").encode(),
        b'{"message":"' + line.replace(" ", "\t").encode() + b'"}',  # a raw tab is not JSON
    ]


@pytest.mark.parametrize(
    ("fmt_text", "sample"),
    [
        (flowlog_transform.DEFAULT_LOG_FORMAT, "vpc_flow.txt"),
        (V5_FORMAT, "vpc_flow_custom.txt"),
        (V3_FORMAT, "vpc_flow_custom_v3_tcpflags.txt"),
        ("${interface-id} ${action}", "vpc_flow.txt"),
    ],
)
def test_fast_path_equals_reference_parser(fmt_text: str, sample: str, samples: Path) -> None:
    """LogFormat.to_json (one regex on the bytes + template) must give exactly what extracting
    the line, splitting it and dumping the document gives, for every framing of every line."""
    fmt = flowlog_transform.LogFormat(fmt_text)
    lines = (samples / sample).read_text().splitlines() + TRICKY_V2 + ["eni-1 ACCEPT", "{eni-1 ACCEPT"]
    for line in lines:
        for payload in _framings(line):
            fast = _outcome(lambda payload=payload: fmt.to_json(payload))
            slow = _outcome(
                lambda payload=payload: flowlog_transform._firehose.dumps_doc(
                    fmt.parse_line(flowlog_transform.extract_line(payload))
                )
            )
            assert fast == slow, payload


def test_fast_path_string_only_format_still_drops_headers() -> None:
    fmt = flowlog_transform.LogFormat("${interface-id} ${action}")
    assert _outcome(lambda: fmt.to_json(b"interface-id action")) == ("dropped", None)
    assert _outcome(lambda: fmt.to_json(b'{"message":"interface-id action"}')) == ("dropped", None)
    assert fmt.to_json(b"eni-1 ACCEPT") == b'{"interface-id":"eni-1","action":"ACCEPT"}\n'
    with pytest.raises(ValueError):  # starts like JSON: never read as a line
        fmt.to_json(b"{eni-1 ACCEPT")


@pytest.mark.parametrize(
    "payload",
    [
        b'{"message":"2 1 eni-1 - - - - - - - 1431280876 1431280934 - NODATA"}',
        b'{"message":"2 1 eni-\\u0041 - - - - - - - 1431280876 1431280934 - NODATA"}',
        b'{"message":"2 1 eni-\\"q - - - - - - - 1431280876 1431280934 - NODATA"}',
        b'{"message":" 2 1 eni-1 - - - - - - - 1431280876 1431280934 - NODATA "}',
        b'{"message":"2 1 eni-1 - - - - - - - 1431280876 1431280934 - NODATA\\n"}',
        b'{"message":"2 1 eni-1 - - - - - - - 1431280876 1431280934 - NODATA\t"}',
        b'{"message":"2 1 eni-1 - - - - - - - 1431280876 1431280934 - NODATA"} ',
        b'{"message":"a"}{"message":"b"}',
    ],
)
def test_message_fast_path_equals_json_parse(payload: bytes) -> None:
    def reference() -> bytes:
        obj = json.loads(payload)
        text = obj["message"].strip()
        if "\n" in text or "\r" in text:
            raise ValueError("more than one line")
        return text.encode()

    assert _outcome(lambda: flowlog_transform.extract_line(payload).encode()) == _outcome(reference)


def test_message_wrapper_with_space() -> None:
    line = "2 1 eni-1 - - - - - - - 1431280876 1431280934 - NODATA"
    for payload in (json.dumps({"message": line}), json.dumps({"message": line}, separators=(",", ":"))):
        assert flowlog_transform.extract_line(payload.encode()) == line
