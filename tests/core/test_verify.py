"""verify's waiting logic: a record that never arrives is reported, not waited for forever."""

from __future__ import annotations

from typing import Any

from logpipe.opensearch.client import Response
from logpipe.verify import Probe, run_probes


class _Search:
    def __init__(self, found_after_polls: int | None) -> None:
        self.polls = 0
        self.found_after_polls = found_after_polls

    def request(self, method: str, path: str, **kwargs: Any) -> Response:
        self.polls += 1
        if self.found_after_polls is not None and self.polls >= self.found_after_polls:
            return Response(200, {"hits": {"hits": [{"_source": {"marker": "x"}}]}})
        return Response(404, {"error": {"type": "index_not_found_exception"}})


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
