"""Helpers every test folder uses: AWS clients (in-process moto or the sandbox) and IAM reads."""

from __future__ import annotations

import json
from typing import Any

import boto3

from logpipe.sandbox.control import SANDBOX_CREDENTIALS
from tests.conftest import REGION


def client(service: str) -> Any:
    """A boto3 client for in-process moto (inside the ``moto``/``lab`` fixtures)."""
    return boto3.client(service, region_name=REGION)


def sandbox_client(sandbox: dict[str, Any], service: str) -> Any:
    """A boto3 client for a running sandbox emulator (the ``sandbox`` fixture)."""
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=sandbox["aws_endpoint_url"],
        aws_access_key_id=SANDBOX_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=SANDBOX_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def role_policy(role: str, iam: Any = None) -> dict[str, Any]:
    """The inline policy logpipe puts on ``role``."""
    iam = iam or client("iam")
    document = iam.get_role_policy(RoleName=role, PolicyName="logpipe")["PolicyDocument"]
    return document if isinstance(document, dict) else json.loads(document)


def role_trust(role: str, iam: Any = None) -> dict[str, Any]:
    iam = iam or client("iam")
    document = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    return document if isinstance(document, dict) else json.loads(document)


def write_calls(result: Any) -> int:
    """The write-call count a `logpipe -v` run printed (fails the test if it printed none)."""
    import re

    match = re.search(r"API calls: (\d+) read, (\d+) write", result.stderr)
    assert match, f"no API call summary in:\n{result.stderr}"
    return int(match.group(2))


def index_templates(mode: str = "native", overrides: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Every pipeline's index template body as ``up`` would PUT it for the lab's config (name -> body)."""
    from types import SimpleNamespace

    from logpipe import pipelines as registry
    from logpipe.pipelines.search import template_name
    from tests.conftest import LAB_CONFIG, deep_merge

    # A pipeline's index declaration reads nothing but the config.
    view: Any = SimpleNamespace(config=registry.parse_config(deep_merge(LAB_CONFIG, overrides or {})))
    return {template_name(p.name): p.index(view).template(mode) for p in registry.data_pipelines()}


class FakeClock:
    """A clock whose ``sleep`` returns at once and moves time on: minutes of waiting run instantly.

    Give it to ``ctx.clock`` (logpipe's waits) and to ``moto_gaps.eventual.configure(clock=...)``
    (the emulated AWS delays), so both see the same time.
    """

    def __init__(self) -> None:
        import threading

        self.time = 1000.0
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self.time

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.time += seconds
