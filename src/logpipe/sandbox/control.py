"""Start, find and stop the background sandbox emulator; its state lives in one folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from logpipe.errors import LogpipeError, UsageError

STATE_FILE = "state.json"
LOG_FILE = "emulator.log"
START_TIMEOUT_SECONDS = 240.0  # a real engine takes up to a minute on a busy machine
ENGINE_ENV = "LOGPIPE_SANDBOX_ENGINE"
ENGINE_VERSION_ENV = "LOGPIPE_SANDBOX_ENGINE_VERSION"

# moto accepts any credentials; these keep boto3 away from real ones while --sandbox is on.
SANDBOX_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIALOGPIPESANDBOX01",
    "AWS_SECRET_ACCESS_KEY": "logpipe-sandbox-secret",
}


def state_dir() -> Path:
    configured = os.environ.get("LOGPIPE_SANDBOX_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "logpipe" / "sandbox"


def master_auth(info: dict[str, Any]) -> Any:
    """Basic auth as the sandbox domain's master user (its password lives in the state folder only)."""
    from logpipe.opensearch.client import BasicAuth
    from logpipe.sandbox.emulator import MASTER_USER

    try:
        password = (Path(info.get("state_dir") or state_dir()) / "master-password").read_text().strip()
    except OSError:
        raise LogpipeError(
            "the sandbox's OpenSearch master password is missing; run `logpipe sandbox stop` and retry"
        ) from None
    return BasicAuth(info.get("master_user") or MASTER_USER, password)


def use_sandbox_credentials() -> None:
    """Point this process's AWS credential chain at the sandbox's fake keys."""
    os.environ.update(SANDBOX_CREDENTIALS)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=2) as response:
            return response.status < 500
    except OSError:
        return False


def status() -> dict[str, Any] | None:
    """The running sandbox's endpoints, or None when none runs."""
    path = state_dir() / STATE_FILE
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not _alive(int(info.get("pid", 0))) or not _answers(info["aws_endpoint_url"]):
        return None
    return {**info, "state_dir": str(state_dir())}


def engine_choice(engine: str | None, engine_version: str | None) -> tuple[str, str | None]:
    """(engine, version) asked for: the arguments, else ``LOGPIPE_SANDBOX_ENGINE`` /
    ``LOGPIPE_SANDBOX_ENGINE_VERSION``, else the embedded emulator as the newest OpenSearch.

    Checked before anything starts: an emulated version must be one logpipe supports, a real
    engine must be in the cache (the message says how to fetch it).
    """
    engine = engine or os.environ.get(ENGINE_ENV) or "emulator"
    version = engine_version or os.environ.get(ENGINE_VERSION_ENV) or None
    if engine not in ("emulator", "opensearch"):
        raise UsageError(f"sandbox engine {engine!r}: choose emulator (embedded, no Java) or opensearch (real)")
    if engine == "opensearch":
        from logpipe.sandbox import real_engine

        return engine, real_engine.version_for(version)
    if version is not None:
        from logpipe.opensearch.mappings import flat_object_mode

        version = version if "_" in version else f"OpenSearch_{version}"
        flat_object_mode(version)  # refuses what logpipe does not support, naming what it does
    return engine, version


def ensure_running(
    *,
    region: str = "ap-northeast-2",
    seed: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    engine: str | None = None,
    engine_version: str | None = None,
) -> dict[str, Any]:
    """Return the running sandbox, starting one (seeded with the lab's starting point) if needed.

    ``engine``/``engine_version`` as :func:`engine_choice`; asking a running sandbox for another
    one is an error (its state would be lost by a silent restart).
    """
    explicit = bool(engine or engine_version)
    engine, engine_version = engine_choice(engine, engine_version)
    info = status()
    if info is not None:
        if info.get("region") != region:
            raise LogpipeError(
                f"the sandbox runs in {info.get('region')}, not {region}; "
                "run `logpipe sandbox stop` first or use that region"
            )
        running = (info.get("engine", "emulator"), info.get("engine_version"))
        if explicit and (running[0] != engine or (engine_version and not _same_version(running[1], engine_version))):
            raise LogpipeError(
                f"the sandbox runs {running[0]} {running[1]}, not {engine} {engine_version or ''}".rstrip()
                + "; run `logpipe sandbox stop` first"
            )
        return info
    folder = state_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / STATE_FILE).unlink(missing_ok=True)
    if progress:
        progress(f"starting the sandbox emulator in {region} (state in {folder}) ...")
    log = open(folder / LOG_FILE, "ab")  # noqa: SIM115 - handed to the child process
    command = [sys.executable, "-m", "logpipe.sandbox.emulator", "--state-dir", str(folder), "--region", region]
    if seed:
        command += ["--seed", json.dumps(seed)]
    command += ["--engine", engine]
    if engine_version:
        command += ["--engine-version", engine_version]
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, close_fds=True
    )
    log.close()
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LogpipeError(f"the sandbox emulator exited during start; see {folder / LOG_FILE}")
        info = status()
        if info is not None and info.get("pid") == process.pid:
            if progress:
                progress(f"sandbox ready: AWS at {info['aws_endpoint_url']}, OpenSearch at {info['opensearch_url']}")
            return info
        time.sleep(0.2)
    process.kill()
    raise LogpipeError(
        f"the sandbox emulator did not start within {int(START_TIMEOUT_SECONDS)} s; see {folder / LOG_FILE}"
    )


def _same_version(running: str | None, wanted: str) -> bool:
    """``OpenSearch_2.11`` (what the domain reports) against ``2.11.1`` or ``OpenSearch_2.11`` (asked for)."""
    if not running:
        return False
    short = running.removeprefix("OpenSearch_")
    return running == wanted or wanted.removeprefix("OpenSearch_").startswith(short)


def stop() -> bool:
    """Stop the emulator (and the servers it started); True when one was running."""
    path = state_dir() / STATE_FILE
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    pid = int(info.get("pid", 0))
    running = pid > 0 and _alive(pid)
    if running:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    path.unlink(missing_ok=True)
    return running
