"""A throttled account: `up` slows down and still finishes within the retry budget; past it, the
failure names the API and the resource, and a rerun converges."""

from __future__ import annotations

from types import SimpleNamespace

import botocore.endpoint
import pytest

from logpipe.sandbox.moto_gaps import throttling
from tests.stack.support import Stack


@pytest.fixture
def backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The SDK's retry sleeps, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=slept.append))
    return slept


def test_bursts_of_throttling_slow_up_down_but_do_not_fail_it(stack: Stack, backoff: list[float]) -> None:
    # Every request to a JSON-protocol API is refused twice before it goes through.
    throttling.throttle(2)

    result, document = stack.up()

    assert result.exit_code == 0, result.output
    assert document["ok"] is True
    refused = throttling.refused()
    assert {"CreateFunction", "CreateDeliveryStream", "PutConfigRule", "CreateLogGroup"} <= set(refused)
    assert len(backoff) == len(refused)  # each refusal was retried after a backoff
    throttling.stop()
    again, settled = stack.up()
    assert again.exit_code == 0 and settled["api_calls"]["write"] == 0


def test_throttling_past_the_retry_budget_names_the_api_and_the_resource(stack: Stack, backoff: list[float]) -> None:
    throttling.throttle(50, operations={"CreateDeliveryStream"})

    result, document = stack.up()

    assert result.exit_code == 1
    failed = {(c["kind"], c["name"]): c["error"] for c in document["changes"] if c["result"] == "failed"}
    # botocore's max_attempts=8 counts retries: the first try and 8 more.
    assert failed[("firehose-stream", "demogo-dns")] == (
        "CreateDeliveryStream: ThrottlingException: Rate exceeded (gave up after 9 attempts)"
    )
    assert "✗ failed firehose-stream demogo-dns" in result.stderr
    assert "CreateDeliveryStream: ThrottlingException: Rate exceeded" in result.stderr

    throttling.stop()
    rerun, finished = stack.up()
    assert rerun.exit_code == 0, rerun.output
    assert finished["ok"] is True
