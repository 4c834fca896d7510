"""A run that dies at any write is finished by the next `up`, and `teardown` still removes all of it.

`up all` is run with a crash injected at its k-th write call: from that call on, every write
(AWS API or OpenSearch data plane) raises before it is sent, as if the process had been killed
there. Each time, a second `up all` must converge, a third must make no write, and
`teardown --yes` must leave nothing logpipe made and change nothing it did not make.

Every k is tried (about 120 crash points), in 8 shards that xdist spreads over its workers:
some 6 minutes of the suite on 2 cores. ``LOGPIPE_CRASH_SPREAD=1`` tries 6 points spread evenly
over the run instead, for a quick local loop.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from logpipe import session
from logpipe.aws import CallCounter, is_read_operation, is_read_request
from logpipe.engine import runner
from tests.stack.support import Stack, logpipe_leftovers, untouched_state

EVERY_WRITE = os.environ.get("LOGPIPE_CRASH_SPREAD") != "1"
SHARDS = 8 if EVERY_WRITE else 2
SPREAD_POINTS = 6


class Crashed(RuntimeError):
    """The injected crash: the process 'died' right before this write."""


def crash_at(k: int) -> type[CallCounter]:
    """A CallCounter whose k-th write, and every write after it, raises before being sent."""

    class CrashingCounter(CallCounter):
        def _crash(self) -> None:
            if len(self.writes) >= k - 1:
                raise Crashed(f"crash injected at write {k}")

        def record(self, service: str, operation: str) -> None:
            if not is_read_operation(operation):
                self._crash()
            super().record(service, operation)

        def record_http(self, service: str, method: str, path: str) -> str:
            if not is_read_request(method, path):
                self._crash()
            return super().record_http(service, method, path)

    return CrashingCounter


def one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apply resources one after another, so that 'the k-th write' is the same call in every run
    (reads, which write nothing, stay parallel)."""
    apply = runner.Engine.apply

    def sequential(self: runner.Engine, items: list[runner.Item]) -> list[runner.Item]:
        workers, self.max_workers = self.max_workers, 1
        try:
            return apply(self, items)
        finally:
            self.max_workers = workers

    monkeypatch.setattr(runner.Engine, "apply", sequential)


def writes_of_a_fresh_up(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The write calls of `up all` on the lab's account, then torn down again.

    AWS Config's service-linked role made by this first run stays (logpipe never deletes it),
    so later runs make one write fewer: the crash points are taken from 1 to len - 1.
    """
    with monkeypatch.context() as patched:
        one_at_a_time(patched)
        result, document = stack.up()
    assert result.exit_code == 0, result.output
    down = stack.run("teardown", "--yes")
    assert down.exit_code == 0, down.output
    assert logpipe_leftovers(stack) == []
    writes = list(document["api_calls"]["write_calls"])
    assert "iam:CreateServiceLinkedRole" in writes
    return writes


def crash_points(total: int, shard: int) -> list[int]:
    if EVERY_WRITE:
        return list(range(1 + shard, total + 1, SHARDS))
    spread = sorted({1 + round(i * (total - 1) / (SPREAD_POINTS - 1)) for i in range(SPREAD_POINTS)})
    return spread[shard::SHARDS]


def crash_then_recover(stack: Stack, k: int, monkeypatch: pytest.MonkeyPatch, before: dict[str, Any]) -> None:
    with monkeypatch.context() as patched:
        one_at_a_time(patched)
        patched.setattr(session, "CallCounter", crash_at(k))
        crashed, document = stack.up()
    assert crashed.exit_code == 1, f"k={k}: {crashed.output}"
    # The failure names the resource and what went wrong.
    failed = [c for c in document["changes"] if c.get("result") == "failed"]
    assert failed and f"crash injected at write {k}" in failed[0]["error"], (k, document["changes"])

    second, again = stack.up()
    assert second.exit_code == 0, f"k={k}: the run after the crash did not converge:\n{second.output}"
    assert again["ok"] is True
    third, settled = stack.up()
    assert third.exit_code == 0 and settled["api_calls"]["write"] == 0, (k, settled["api_calls"]["write_calls"])

    down = stack.run("teardown", "--yes")
    assert down.exit_code == 0, f"k={k}: {down.output}"
    assert logpipe_leftovers(stack) == [], f"k={k}"
    assert untouched_state(stack) == before, f"k={k}"


@pytest.mark.parametrize("shard", range(SHARDS))
def test_a_crash_at_any_write_is_finished_by_the_next_up(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, shard: int
) -> None:
    before = untouched_state(stack)
    writes = writes_of_a_fresh_up(stack, monkeypatch)
    assert len(writes) > 100  # every pipeline and the OpenSearch side were built
    points = crash_points(len(writes) - 1, shard)
    started = time.monotonic()
    for k in points:
        crash_then_recover(stack, k, monkeypatch, before)
    print(f"shard {shard}: crash points {points} in {time.monotonic() - started:.0f} s")
