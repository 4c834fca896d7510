"""Waiting on AWS, visibly and within bounds.

Two kinds of wait:

- :func:`retry_while` repeats a call AWS refuses only for now: a role created seconds ago that
  a service cannot assume yet, a Lambda permission CloudWatch Logs cannot see yet. IAM is
  eventually consistent; AWS documents that a change can take a few seconds to be seen
  everywhere, so logpipe retries for up to :data:`PROPAGATION_TIMEOUT_SECONDS`.
- :func:`wait_until` polls a slow change (a Firehose stream becoming ACTIVE, an OpenSearch
  domain applying a new configuration, the Config recorder starting).

Both back off exponentially with jitter (never a fixed sleep), report what they wait for and
for how long through ``ctx.progress`` on every round ("waiting for W … N s", then "done waiting
for W after N s" once it is over, which is what lets a terminal show one live line per wait),
and stop at a timeout with a message that names what was awaited and what to run next. Time comes from ``ctx.clock``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError

from logpipe.aws import describe_client_error
from logpipe.engine.clock import Clock
from logpipe.errors import LogpipeError

if TYPE_CHECKING:
    from logpipe.engine.context import Context

T = TypeVar("T")

# How long a refused call is retried while IAM (or a resource policy) propagates.
PROPAGATION_TIMEOUT_SECONDS = 120.0
RERUN_HINT = "run `logpipe up` again in a minute; it picks up where this run stopped"


class WaitNote(str):
    """A progress line about a wait, with what it waits for: a terminal keeps one live line per wait.

    ``over`` marks the line that ends a wait; ``elapsed`` is the seconds waited so far.
    """

    what: str
    elapsed: float
    over: bool

    def __new__(cls, text: str, *, what: str, elapsed: float, over: bool = False) -> WaitNote:
        note = super().__new__(cls, text)
        note.what, note.elapsed, note.over = what, elapsed, over
        return note


class WaitTimeout(LogpipeError):
    """A bounded wait ran out; the message says what was awaited and what to do next."""


def backoff(first: float, cap: float, rng: Callable[[], float] = random.random) -> Iterator[float]:
    """Delays ``first``, ``2*first``, ``4*first`` ... up to ``cap``, each jittered to between half and all of it."""
    step = first
    while True:
        yield step * (0.5 + 0.5 * rng())
        step = min(step * 2, cap)


def retry_while(
    ctx: Context,
    call: Callable[[], T],
    retryable: Callable[[ClientError], bool],
    *,
    what: str,
    timeout: float = PROPAGATION_TIMEOUT_SECONDS,
    first_delay: float = 0.5,
    max_delay: float = 10.0,
    hint: str = RERUN_HINT,
) -> T:
    """``call()``, repeated while AWS answers with an error ``retryable`` accepts.

    ``what`` completes "waiting for ...", e.g. ``IAM role X to propagate (Lambda CreateFunction:
    role cannot be assumed)``. Any other error is raised at once.
    """
    clock: Clock = ctx.clock
    start = clock.now()
    delays = backoff(first_delay, max_delay)
    waited = False
    while True:
        try:
            result = call()
        except ClientError as exc:
            if not retryable(exc):
                raise
            elapsed = clock.now() - start
            delay = next(delays)
            if elapsed + delay > timeout:
                raise WaitTimeout(
                    f"gave up after {elapsed:.0f} s waiting for {what}: {describe_client_error(exc)}; {hint}"
                ) from None
            ctx.progress(WaitNote(f"waiting for {what} … {elapsed:.0f} s", what=what, elapsed=elapsed))
            waited = True
            clock.sleep(delay)
            continue
        if waited:
            _waited(ctx, what, clock.now() - start)
        return result


def wait_until(
    ctx: Context,
    check: Callable[[], bool | str],
    *,
    what: str,
    timeout: float,
    hint: str,
    first_delay: float = 1.0,
    max_delay: float = 30.0,
) -> None:
    """Poll ``check`` until it returns True. False, or a short state ("now CREATING"), means not yet."""
    clock: Clock = ctx.clock
    start = clock.now()
    delays = backoff(first_delay, max_delay)
    waited = False
    while True:
        state = check()
        if state is True:
            if waited:
                _waited(ctx, what, clock.now() - start)
            return
        elapsed = clock.now() - start
        if elapsed >= timeout:
            now = f" (still {state})" if isinstance(state, str) and state else ""
            raise WaitTimeout(f"timed out after {int(timeout)} s waiting for {what}{now}; {hint}")
        shown = f" ({state})" if isinstance(state, str) and state else ""
        ctx.progress(WaitNote(f"waiting for {what}{shown} … {elapsed:.0f} s", what=what, elapsed=elapsed))
        waited = True
        clock.sleep(min(next(delays), max(timeout - elapsed, 0.0)))


def _waited(ctx: Any, what: str, seconds: float) -> None:
    """The line that closes a reported wait (a terminal's live line for ``what`` ends with it)."""
    ctx.progress(WaitNote(f"done waiting for {what} after {seconds:.0f} s", what=what, elapsed=seconds, over=True))


class _SleepClock(Clock):
    def __init__(self, sleep: Callable[[float], None]) -> None:
        self._sleep = sleep

    def sleep(self, seconds: float) -> None:
        self._sleep(seconds)


class _Quiet:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def progress(self, message: str) -> None:
        return None


def wait_for(
    check: Callable[[], bool],
    *,
    what: str,
    timeout: float = 300.0,
    interval: float = 2.0,
    sleep: Callable[[float], None] | None = None,
) -> None:
    """Poll ``check`` without progress lines, backing off up to ``interval`` seconds between polls."""
    import time

    quiet: Any = _Quiet(_SleepClock(sleep or time.sleep))
    wait_until(
        quiet,
        check,
        what=what,
        timeout=timeout,
        hint="try again later",
        first_delay=min(1.0, interval),
        max_delay=interval,
    )
