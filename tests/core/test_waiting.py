"""Waits and retries: backed off with jitter, bounded, and telling the user what they wait for."""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from logpipe.resources.waiting import WaitTimeout, backoff, retry_while, wait_until
from tests.support import FakeClock


def ctx() -> Any:
    said: list[str] = []
    return SimpleNamespace(clock=FakeClock(), progress=said.append, said=said)


def refusal(code: str = "InvalidParameterValueException", message: str = "cannot be assumed") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "CreateFunction")


def test_backoff_doubles_up_to_its_cap_with_jitter() -> None:
    low = backoff(1.0, 8.0, rng=lambda: 0.0)
    high = backoff(1.0, 8.0, rng=lambda: 1.0)
    assert [next(low) for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert [next(high) for _ in range(6)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_a_refused_call_is_retried_until_aws_accepts_it_saying_what_it_waits_for() -> None:
    run = ctx()
    answers: list[Any] = [refusal(), refusal(), refusal(), {"FunctionArn": "arn"}]

    def call() -> Any:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    what = "IAM role r to propagate (Lambda CreateFunction: role cannot be assumed)"
    result = retry_while(run, call, lambda exc: True, what=what)
    assert result == {"FunctionArn": "arn"}
    slept = run.clock.slept
    assert len(slept) == 3 and slept[0] < slept[2]  # never a fixed sleep: it backs off
    assert [line.split(" … ")[0] for line in run.said[:-1]] == [f"waiting for {what}"] * 3
    assert run.said[-2].endswith(f"… {sum(slept[:2]):.0f} s")  # with the time waited so far
    assert run.said[-1] == f"done waiting for {what} after {sum(slept):.0f} s"


def test_an_error_that_is_not_a_propagation_delay_is_raised_at_once() -> None:
    run = ctx()

    def call() -> Any:
        raise refusal("AccessDeniedException", "not allowed")

    with pytest.raises(ClientError):
        retry_while(run, call, lambda exc: exc.response["Error"]["Code"] != "AccessDeniedException", what="x")
    assert run.clock.slept == [] and run.said == []


def test_retries_stop_at_their_bound_naming_what_was_awaited_the_api_and_the_next_step() -> None:
    run = ctx()

    def call() -> Any:
        raise refusal(message="The role defined for the function cannot be assumed by Lambda.")

    with pytest.raises(WaitTimeout) as caught:
        retry_while(run, call, lambda exc: True, what="IAM role r to propagate", timeout=60.0)
    message = str(caught.value)
    assert "waiting for IAM role r to propagate" in message
    assert "CreateFunction: InvalidParameterValueException: The role defined" in message
    assert "run `logpipe up` again" in message
    assert sum(run.clock.slept) <= 60.0


def test_a_slow_change_is_polled_with_backoff_showing_its_state_and_elapsed_time() -> None:
    run = ctx()
    states: list[bool | str] = ["now CREATING", "now CREATING", True]
    wait_until(run, lambda: states.pop(0), what="Firehose stream s to become ACTIVE", timeout=600, hint="h")
    first, second = run.clock.slept
    assert first <= second
    assert run.said == [
        "waiting for Firehose stream s to become ACTIVE (now CREATING) … 0 s",
        f"waiting for Firehose stream s to become ACTIVE (now CREATING) … {first:.0f} s",
        f"done waiting for Firehose stream s to become ACTIVE after {first + second:.0f} s",
    ]


def test_a_slow_change_that_outlasts_its_timeout_says_what_to_run_next() -> None:
    run = ctx()
    with pytest.raises(WaitTimeout) as caught:
        wait_until(
            run,
            lambda: "now Processing",
            what="the domain to apply its policy",
            timeout=900,
            hint="run `logpipe up opensearch` again later",
        )
    assert str(caught.value) == (
        "timed out after 900 s waiting for the domain to apply its policy (still now Processing); "
        "run `logpipe up opensearch` again later"
    )
    assert sum(run.clock.slept) == pytest.approx(900, abs=1e-6)  # the last sleep is cut to the deadline


def terminal_printer(*, terminal: bool) -> tuple[Any, io.StringIO]:
    from rich.console import Console

    from logpipe.render import Printer

    printer = Printer()
    screen = io.StringIO()
    printer.err = Console(file=screen, force_terminal=terminal, width=120, highlight=False)
    return printer, screen


def test_on_a_terminal_each_wait_is_one_live_line_whose_seconds_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    from logpipe import render

    printer, screen = terminal_printer(terminal=True)
    now = [100.0]
    monkeypatch.setattr(render.time, "monotonic", lambda: now[0])
    run = SimpleNamespace(clock=FakeClock(), progress=printer.progress)
    states: list[bool | str] = ["now CREATING", "now CREATING"]

    def check() -> bool | str:
        now[0] += 7  # each poll, seven seconds pass on the wall
        return states.pop(0) if states else True

    shown: list[str] = []
    original_sleep = run.clock.sleep

    def sleep(seconds: float) -> None:
        lines = [t.plain for t in render._WaitLines(printer).__rich__().renderables]
        shown.append(" | ".join(lines))
        original_sleep(seconds)

    run.clock.sleep = sleep
    wait_until(run, check, what="Firehose stream s to become ACTIVE", timeout=600, hint="h")
    # One line, not one per round, counting from the wait's start as the wall clock moves.
    assert shown == [
        "  waiting for Firehose stream s to become ACTIVE (now CREATING) … 0 s",
        "  waiting for Firehose stream s to become ACTIVE (now CREATING) … 7 s",
    ]
    assert printer._live is None  # the wait is over: the live line is gone ...
    printed = screen.getvalue()
    assert "done waiting for Firehose stream s to become ACTIVE after" in printed  # ... and its end stays


def test_in_a_log_each_round_of_a_wait_is_its_own_line() -> None:
    printer, screen = terminal_printer(terminal=False)
    run = SimpleNamespace(clock=FakeClock(), progress=printer.progress)
    states: list[bool | str] = ["now CREATING", "now CREATING", True]
    wait_until(run, lambda: states.pop(0), what="stream s", timeout=600, hint="h")
    lines = [line.strip() for line in screen.getvalue().splitlines()]
    assert [line.split(" … ")[0] for line in lines[:2]] == ["waiting for stream s (now CREATING)"] * 2
    assert lines[2].startswith("done waiting for stream s after")
    assert printer._live is None
