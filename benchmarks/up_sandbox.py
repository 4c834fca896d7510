"""How long `up all` takes against the sandbox, how many API calls it makes, and its memory.

Prints figures; asserts nothing. Runs its own sandbox in a temporary folder and stops it.

    .venv/bin/python benchmarks/up_sandbox.py
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def logpipe(*args: str, env: dict[str, str]) -> tuple[float, dict, int]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "logpipe.cli", "-o", "json", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    took = time.perf_counter() - start
    if result.returncode not in (0, 1):
        sys.exit(f"logpipe {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return took, json.loads(result.stdout or "{}"), peak_kib


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "LOGPIPE_SANDBOX_DIR": folder}
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "logpipe.cli", "sandbox", "start"], env=env, check=True, capture_output=True
        )
        print(f"sandbox start            {time.perf_counter() - start:6.2f} s")
        try:
            rows = [
                ("up all (fresh account)", ("--sandbox", "up", "all")),
                ("up all (again, no-op)", ("--sandbox", "up", "all")),
                ("plan all", ("--sandbox", "plan", "all")),
                ("verify all", ("--sandbox", "verify")),
                ("status all", ("--sandbox", "status")),
                ("teardown all", ("--sandbox", "teardown", "--yes")),
            ]
            print(f"{'command':24} {'seconds':>8} {'reads':>7} {'writes':>7} {'max RSS so far (MiB)':>21}")
            for label, args in rows:
                took, doc, peak = logpipe(*args, env=env)
                calls = doc.get("api_calls", {})
                print(
                    f"{label:24} {took:8.2f} {calls.get('read', '-'):>7} {calls.get('write', '-'):>7} "
                    f"{peak / 1024:21.1f}"
                )
        finally:
            subprocess.run(
                [sys.executable, "-m", "logpipe.cli", "sandbox", "stop"], env=env, check=False, capture_output=True
            )


if __name__ == "__main__":
    main()
