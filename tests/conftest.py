"""Shared fixtures: fake AWS credentials, moto in-process with logpipe's gap fillers, the lab's
starting point, configs, and runs of the real command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest_plugins = ["tests.real_engine"]

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO.parent / "shared" / "samples"
REGION = "ap-northeast-2"
ACCOUNT = "123456789012"

# The sandbox emulates IAM propagation and slow changes (moto_gaps.eventual); tests that are not
# about them run without, so the suite stays fast. Sandboxes started by tests inherit this.
os.environ["LOGPIPE_SANDBOX_IAM_PROPAGATION_SECONDS"] = "0"
os.environ["LOGPIPE_SANDBOX_SLOW_CHANGE_SECONDS"] = "0"

LAB_CONFIG: dict[str, Any] = {
    "prefix": "demogo",
    "region": REGION,
    "opensearch": {"domain": "demogo-opensearch"},
}


@pytest.fixture(autouse=True)
def _isolated_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test may find real credentials or profiles."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name in ("LOGPIPE_CONFIG",):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def moto() -> Iterator[None]:
    """moto in-process with logpipe's gap fillers installed (the same ones the sandbox uses)."""
    from moto import mock_aws

    from logpipe.sandbox import moto_gaps

    moto_gaps.install()
    with mock_aws():
        yield


# moto's caller; the stand-in takes every SigV4 request for it (mock_aws swaps the access key).
CALLER_ARN = "arn:aws:iam::123456789012:user/moto"
MASTER_PASSWORD = "Master-Passw0rd!"


@contextmanager
def fgac_domain(osmem_base: Any, **options: Any) -> Iterator[Any]:
    """An FGAC domain endpoint on a fresh osmem clone; the moto caller is its IAM master."""
    from logpipe.sandbox.opensearch_standin import OpenSearchStandin

    clone = osmem_base.clone()
    server = OpenSearchStandin(
        clone.url,
        master_password=MASTER_PASSWORD,
        master_iam_arn=CALLER_ARN,
        default_iam_arn=CALLER_ARN,
        **options,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
        clone.close()


@pytest.fixture
def standin(osmem_base: Any) -> Iterator[Any]:
    """An FGAC domain endpoint of this test's own (the lab domain's endpoint)."""
    with fgac_domain(osmem_base, region=REGION) as server:
        yield server


@pytest.fixture
def lab(moto: None, standin: Any) -> dict[str, Any]:
    """The lab's starting point: domain with FGAC (its endpoint this test's stand-in), VPC tagged
    demogo-vpc, regional web ACL."""
    import boto3

    from logpipe.sandbox.emulator import LAB_SEED, seed_account

    seed_account(None, REGION, LAB_SEED, standin.url, MASTER_PASSWORD)
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["demogo-vpc"]}])["Vpcs"][0]
    return {"vpc_id": vpc["VpcId"]}


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a config file: the lab's, deep-merged with ``overrides``."""

    def write(overrides: dict[str, Any] | None = None, *, raw: str | None = None, name: str = "logpipe.yaml") -> Path:
        path = tmp_path / name
        if raw is not None:
            path.write_text(raw)
        else:
            path.write_text(yaml.safe_dump(deep_merge(LAB_CONFIG, overrides or {})))
        return path

    return write


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


@pytest.fixture
def make_run(write_config: Callable[..., Path]) -> Callable[..., Any]:
    """A logpipe Run against in-process moto (use with the ``moto``/``lab`` fixtures)."""
    from logpipe.session import Options, Run

    def make(overrides: dict[str, Any] | None = None, **options: Any) -> Run:
        path = write_config(overrides)
        return Run(Options(config=str(path), **options), progress=lambda message: None)

    return make


def run_logpipe(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, input_text: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The real command, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "logpipe.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        input=input_text,
        timeout=600,
        check=False,
    )


def json_out(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.stdout.strip(), f"no JSON on stdout; stderr:\n{result.stderr}"
    return json.loads(result.stdout)


@pytest.fixture(scope="session")
def osmem_base() -> Iterator[Any]:
    """One empty osmem-server for the session (the osmem pytest plugin is disabled); tests clone it."""
    from osmem_server import OsmemServer

    server = OsmemServer.start(japanese=False)
    try:
        yield server
    finally:
        server.close()
        if server.process.stdout is not None:  # osmem leaves its stdout pipe open
            server.process.stdout.close()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A sandbox emulator of this test module's own (separate state folder), stopped afterwards."""
    folder = tmp_path_factory.mktemp("sandbox")
    env = {"LOGPIPE_SANDBOX_DIR": str(folder)}
    old = os.environ.get("LOGPIPE_SANDBOX_DIR")
    os.environ["LOGPIPE_SANDBOX_DIR"] = str(folder)
    try:
        started = run_logpipe("-o", "json", "sandbox", "start", env=env)
        assert started.returncode == 0, started.stderr
        yield {"env": env, **json.loads(started.stdout)}
    finally:
        run_logpipe("sandbox", "stop", env=env)
        if old is None:
            os.environ.pop("LOGPIPE_SANDBOX_DIR", None)
        else:
            os.environ["LOGPIPE_SANDBOX_DIR"] = old
