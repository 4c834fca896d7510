"""verify's waiting logic: a record that never arrives is reported, not waited for forever."""

from __future__ import annotations

from typing import Any

from logpipe.pipelines.base import Probe
from logpipe.verify import run_probes


class _Search:
    """The data plane as verify sees it: ``call`` runs an opensearch-py call on the client."""

    def __init__(self, found_after_polls: int | None) -> None:
        self.polls = 0
        self.found_after_polls = found_after_polls

    def call(self, fn: Any, *, what: str, missing: Any = None) -> Any:
        return fn(self)

    def search(self, index: str, body: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        self.polls += 1
        if self.found_after_polls is not None and self.polls >= self.found_after_polls:
            return {"hits": {"hits": [{"_source": {"marker": "x"}}]}}
        return {"hits": {"hits": []}}


class _Ctx:
    def __init__(self, search: _Search) -> None:
        self.opensearch = search
        self.messages: list[str] = []

    def progress(self, message: str) -> None:
        self.messages.append(message)


def probe(sent: list[str], fail: bool = False) -> Probe:
    def send(ctx: Any, marker: str) -> None:
        if fail:
            raise RuntimeError("stream not found")
        sent.append(marker)

    return Probe("dns", "Firehose stream demogo-dns", "dns-log*", "query_name", send)


def test_record_found_on_a_later_poll() -> None:
    sent: list[str] = []
    ctx = _Ctx(_Search(found_after_polls=3))
    [result] = run_probes(ctx, [probe(sent)], timeout=60, interval=1, sleep=lambda s: None)
    assert result.found_after is not None and result.error is None
    assert sent == [result.marker] and result.marker.startswith("logpipe-verify-")
    assert ctx.opensearch.polls == 3


def test_record_that_never_arrives_is_an_error_after_the_timeout() -> None:
    clock = {"slept": 0.0}

    def sleep(seconds: float) -> None:
        import time

        clock["slept"] += seconds
        time.sleep(0.01)

    [result] = run_probes(_Ctx(_Search(None)), [probe([])], timeout=0.05, interval=0.01, sleep=sleep)
    assert result.found_after is None
    assert "not in dns-log*" in result.error and result.marker in result.error
    assert result.as_dict()["ok"] is False


def test_a_probe_that_cannot_send_does_not_stop_the_others() -> None:
    sent: list[str] = []
    broken, fine = probe([], fail=True), probe(sent)
    results = run_probes(
        _Ctx(_Search(found_after_polls=1)), [broken, fine], timeout=5, interval=1, sleep=lambda s: None
    )
    assert "could not send the test record: stream not found" in results[0].error
    assert results[1].found_after is not None


def test_a_failure_the_stream_parked_since_sending_ends_the_wait_with_its_reason(moto: None) -> None:
    """Firehose writes records OpenSearch refused under the stream's backup prefix: verify reads them
    each round and says why at once, instead of waiting out its timeout."""
    import json

    import boto3

    from logpipe.pipelines.base import BucketFailures

    s3 = boto3.client("s3", region_name="ap-northeast-2")
    s3.create_bucket(Bucket="demogo-kdf-backup", CreateBucketConfiguration={"LocationConstraint": "ap-northeast-2"})
    # An old failure of someone else's record is not this probe's.
    s3.put_object(Bucket="demogo-kdf-backup", Key="demogo-dns/old", Body=b"{}")

    def send(ctx: Any, marker: str) -> None:
        refused = {"errorCode": "400", "errorMessage": "mapper_parsing_exception: failed to parse field [srcport]"}
        key = "demogo-dns/AmazonOpenSearchService-failed/2026/12/02/10/x"
        s3.put_object(Bucket="demogo-kdf-backup", Key=key, Body=json.dumps(refused).encode())

    errors = (BucketFailures("demogo-kdf-backup", "demogo-dns/", "Firehose stream demogo-dns"),)
    ctx = _Ctx(_Search(None))
    ctx.aws = type(
        "Aws", (), {"client": staticmethod(lambda service: boto3.client(service, region_name="ap-northeast-2"))}
    )
    probe = Probe("dns", "Firehose stream demogo-dns", "dns-log-*", "query_name", send, errors=errors)

    slept: list[float] = []
    [result] = run_probes(ctx, [probe], timeout=300, interval=10, sleep=slept.append)

    assert slept == [], "no waiting once the failure is on record"
    assert result.found_after is None
    assert "Firehose stream demogo-dns recorded a failure" in result.error
    assert "mapper_parsing_exception: failed to parse field [srcport]" in result.error
    assert "AmazonOpenSearchService-failed" in result.error


def test_a_lambda_error_logged_since_sending_ends_the_wait(moto: None) -> None:
    import time

    import boto3

    from logpipe.pipelines.base import LogGroupErrors
    from logpipe.pipelines.shared import LAMBDA_ERROR_PATTERN

    logs = boto3.client("logs", region_name="ap-northeast-2")
    group = "/aws/lambda/demogo-waf-log-to-opensearch"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")

    def send(ctx: Any, marker: str) -> None:
        line = "[ERROR]\t2026-12-02T10:00:00Z\treq\tKeyError: 'records'"
        logs.put_log_events(
            logGroupName=group, logStreamName="s", logEvents=[{"timestamp": int(time.time() * 1000), "message": line}]
        )

    errors = (LogGroupErrors(group, "function demogo-waf-log-to-opensearch", LAMBDA_ERROR_PATTERN),)
    ctx = _Ctx(_Search(None))
    ctx.aws = type(
        "Aws", (), {"client": staticmethod(lambda service: boto3.client(service, region_name="ap-northeast-2"))}
    )
    probe = Probe(
        "waf", "Firehose stream aws-waf-logs-demogo", "waf-log-*", "httpRequest.requestId", send, errors=errors
    )

    [result] = run_probes(ctx, [probe], timeout=300, interval=10, sleep=lambda s: None)

    assert "function demogo-waf-log-to-opensearch recorded a failure" in result.error
    assert "KeyError: 'records'" in result.error
