"""`logpipe --sandbox up all` killed with SIGKILL while it waits for a role to propagate, and
late in the run: the next `up` finishes it, a third writes nothing, `teardown` leaves nothing
logpipe made and nothing else changed. (Every other point of a run is covered in process by
tests/stack/test_crash_safety.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import json_out, run_logpipe
from tests.stack.support import Account, foreign_resources, logpipe_leftovers, untouched_state
from tests.support import sandbox_client, write_calls

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def slow_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A sandbox of this module's own in which a new IAM role takes a second to propagate."""
    folder = tmp_path_factory.mktemp("sandbox")
    env = {"LOGPIPE_SANDBOX_DIR": str(folder), "LOGPIPE_SANDBOX_IAM_PROPAGATION_SECONDS": "1"}
    started = run_logpipe("-o", "json", "sandbox", "start", env=env)
    assert started.returncode == 0, started.stderr
    try:
        yield {"env": env, "folder": folder, **json.loads(started.stdout)}
    finally:
        run_logpipe("sandbox", "stop", env=env)


@pytest.fixture(scope="module")
def account(slow_sandbox: dict[str, Any]) -> Account:
    def client(service: str) -> Any:
        return sandbox_client(slow_sandbox, service)

    password = (Path(slow_sandbox["folder"]) / "master-password").read_text().strip()

    def opensearch(method: str, path: str) -> requests.Response:
        headers = {"osd-xsrf": "true"} if path.startswith("/_dashboards") else {}
        url = slow_sandbox["opensearch_url"] + path
        return requests.request(method, url, auth=("admin", password), headers=headers, timeout=30)

    vpcs = client("ec2").describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["demogo-vpc"]}])["Vpcs"]
    return Account(client, opensearch, vpcs[0]["VpcId"], foreign_resources(client))


def kill_up_when(env: dict[str, str], moment: Callable[[list[str]], bool]) -> list[str]:
    """Start `logpipe --sandbox -vv up all`, SIGKILL it once ``moment(stderr lines so far)``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "logpipe.cli", "--sandbox", "-vv", "up", "all"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    assert process.stderr is not None
    lines: list[str] = []
    try:
        for line in process.stderr:
            lines.append(line.rstrip("\n"))
            if moment(lines):
                process.send_signal(signal.SIGKILL)
                break
    finally:
        process.wait(timeout=120)
    assert process.returncode == -signal.SIGKILL, "up finished before the kill point:\n" + "\n".join(lines)
    return lines


def starts(n: int) -> Callable[[list[str]], bool]:
    """After the n-th resource change has started (-vv prints "… create <kind> <name>")."""
    return lambda lines: sum(1 for line in lines if line.lstrip().startswith("… create")) >= n


def waiting_for_a_role(lines: list[str]) -> bool:
    return lines[-1].lstrip().startswith("waiting for IAM role")


@pytest.mark.parametrize("moment", [waiting_for_a_role, starts(60)], ids=["waiting", "late"])
def test_up_killed_mid_run_is_finished_by_the_next(
    slow_sandbox: dict[str, Any], account: Account, moment: Callable[[list[str]], bool]
) -> None:
    env = slow_sandbox["env"]
    before = untouched_state(account)

    kill_up_when(env, moment)

    finished = run_logpipe("--sandbox", "-o", "json", "up", "all", env=env)
    assert finished.returncode == 0, finished.stderr
    assert json_out(finished)["ok"] is True
    settled = run_logpipe("--sandbox", "-v", "up", "all", env=env)
    assert settled.returncode == 0 and write_calls(settled) == 0, settled.stderr
    down = run_logpipe("--sandbox", "teardown", "--yes", env=env)
    assert down.returncode == 0, down.stderr
    assert logpipe_leftovers(account) == []
    assert untouched_state(account) == before
