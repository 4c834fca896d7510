"""How `up all`, `status` and `teardown` fare when every call takes time, as on real AWS.

Adds a fixed delay to every AWS API call (a botocore ``before-send`` hook on each client
logpipe builds) and to every OpenSearch request (the data plane's per-request hook), then
prints for each command: wall time, calls made, the sum of the added delays, and wall / sum.
A ratio well below 1 means the calls overlap; a no-op `up all` should stay short at any delay.

Prints figures; asserts nothing. Runs its own sandbox in a temporary folder (with the emulated
IAM propagation and slow changes off, so the figures are about call latency alone) and stops it.

    .venv/bin/python benchmarks/latency.py            # 0, 50 and 100 ms
    .venv/bin/python benchmarks/latency.py 100        # only 100 ms
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any

from logpipe import cli
from logpipe.aws import Aws
from logpipe.opensearch import client as os_client


class Latency:
    """The delay every call gets, and how many calls got it (retries count once each)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            self.calls += 1
        if self.seconds:
            time.sleep(self.seconds)

    def reset(self, seconds: float) -> None:
        with self._lock:
            self.seconds, self.calls = seconds, 0


LATENCY = Latency()


@contextlib.contextmanager
def delayed_calls() -> Iterator[None]:
    """Every boto3 client logpipe makes, and every data-plane request, waits LATENCY first."""
    original_client, original_connect = Aws.client, os_client.connect

    def client(self: Aws, service: str) -> Any:
        made = original_client(self, service)
        if not getattr(made, "_latency_hooked", False):
            made.meta.events.register("before-send", lambda **_: LATENCY.wait())
            made._latency_hooked = True
        return made

    def connect(url: str, *, on_request: Any = None, **kwargs: Any) -> Any:
        def hooked(method: str, path: str) -> None:
            LATENCY.wait()
            if on_request is not None:
                on_request(method, path)

        return original_connect(url, on_request=hooked, **kwargs)

    Aws.client = client  # type: ignore[method-assign]
    os_client.connect = connect  # type: ignore[assignment]
    try:
        yield
    finally:
        Aws.client = original_client  # type: ignore[method-assign]
        os_client.connect = original_connect  # type: ignore[assignment]


def logpipe(*args: str) -> tuple[float, dict[str, Any]]:
    """One command in this process (so the hooks apply); wall seconds and its JSON output."""
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        try:
            cli.main(["--sandbox", "-o", "json", *args], standalone_mode=False)
        except SystemExit as exc:
            # status exits 1 while no pipeline has data yet: that is an answer, not a failure.
            if exc.code not in (0, 1, None):
                sys.exit(f"logpipe {' '.join(args)} exited {exc.code}:\n{out.getvalue()[-2000:]}")
    took = time.perf_counter() - start
    return took, json.loads(out.getvalue() or "{}")


COMMANDS = [
    ("up all (from scratch)", ("up", "all")),
    ("up all (no-op)", ("up", "all")),
    ("status", ("status",)),
    ("teardown", ("teardown", "--yes")),
]


def main(argv: list[str]) -> None:
    delays_ms = [int(a) for a in argv] or [0, 50, 100]
    with tempfile.TemporaryDirectory() as folder:
        os.environ["LOGPIPE_SANDBOX_DIR"] = folder
        os.environ["LOGPIPE_SANDBOX_IAM_PROPAGATION_SECONDS"] = "0"
        os.environ["LOGPIPE_SANDBOX_SLOW_CHANGE_SECONDS"] = "0"
        os.environ.pop("LOGPIPE_CONFIG", None)
        os.chdir(folder)  # no ./logpipe.yaml: the lab's defaults
        subprocess.run(
            [sys.executable, "-m", "logpipe.cli", "sandbox", "start"], check=True, capture_output=True, env=os.environ
        )
        print(
            f"{'delay':>5}  {'command':22} {'wall s':>7} {'calls':>6} {'reads':>6} {'writes':>6} "
            f"{'delays s':>9} {'wall/delays':>11}"
        )
        try:
            with delayed_calls():
                for ms in delays_ms:
                    for label, args in COMMANDS:
                        LATENCY.reset(ms / 1000)
                        took, doc = logpipe(*args)
                        calls = doc.get("api_calls", {})
                        delays = LATENCY.calls * ms / 1000
                        ratio = f"{took / delays:11.2f}" if delays else f"{'-':>11}"
                        print(
                            f"{ms:>3}ms  {label:22} {took:7.2f} {LATENCY.calls:6} {calls.get('read', '-'):>6} "
                            f"{calls.get('write', '-'):>6} {delays:9.2f} {ratio}",
                            flush=True,
                        )
        finally:
            subprocess.run(
                [sys.executable, "-m", "logpipe.cli", "sandbox", "stop"],
                check=False,
                capture_output=True,
                env=os.environ,
            )


if __name__ == "__main__":
    main(sys.argv[1:])
