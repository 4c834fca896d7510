"""Fixtures for the OpenSearch side: moto for AWS, osmem-server + the stand-in for the domain."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from logpipe.sandbox.opensearch_standin import OpenSearchStandin
from tests.conftest import CALLER_ARN, MASTER_PASSWORD, REGION, fgac_domain

ADMIN = ("admin", MASTER_PASSWORD)
API = "/_plugins/_security/api"
SAVED_OBJECTS = "/_dashboards/api/saved_objects"
XSRF = {"osd-xsrf": "true"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module that sets ``ENGINES = BOTH`` runs each test on the emulator (osmem-server + the
    stand-in's security plugin) and on a real OpenSearch 2.19 node with its security plugin (skipped,
    with the reason, where none can run): a behaviour the emulator gets wrong fails on one of the two.
    Others (the AWS side of the domain, how requests are signed) run on the emulator only."""
    if "engine" in metafunc.fixturenames:
        metafunc.parametrize("engine", getattr(metafunc.module, "ENGINES", ("emulator",)))


BOTH = ("emulator", "real-2.19")


@pytest.fixture
def standin(engine: str, osmem_base: Any, request: pytest.FixtureRequest) -> Iterator[OpenSearchStandin]:
    """This test's domain endpoint (the lab domain's too), on ``engine``."""
    if engine == "emulator":
        with fgac_domain(osmem_base, region=REGION) as server:
            yield server
        return
    from tests.real_engine import standin_for

    real = request.getfixturevalue("real_engine_2_19")
    with standin_for(
        real, master_password=MASTER_PASSWORD, master_iam_arn=CALLER_ARN, default_iam_arn=CALLER_ARN, region=REGION
    ) as server:
        yield server


@pytest.fixture
def os_run(lab: dict[str, Any], standin: OpenSearchStandin, make_run: Callable[..., Any]) -> Callable[..., Any]:
    """A Run whose data plane is the stand-in (config opensearch.endpoint_url), AWS is moto."""

    def make(overrides: dict[str, Any] | None = None, **options: Any) -> Any:
        extra = overrides or {}
        section = {"endpoint_url": standin.url, **extra.get("opensearch", {})}
        return make_run({**extra, "opensearch": section}, **options)

    return make


def up(run: Any, *targets: str) -> list[Any]:
    """What `logpipe up` does, in process; returns the applied plan items."""
    pipes = run.pipelines(targets or ("opensearch",))
    run.preflight(pipes)
    items = run.engine.plan(run.declare(pipes))
    run.engine.apply(items)
    failed = [f"{i.resource.key}: {i.error}" for i in items if i.result in ("failed", "skipped")]
    assert not failed, failed
    return items


def teardown(run: Any, *targets: str) -> list[Any]:
    pipes = run.pipelines(targets or ("opensearch",), for_teardown=True)
    items = run.engine.plan_teardown(run.declare(pipes), keep=run.others_keys(pipes))
    run.engine.teardown(items)
    failed = [f"{i.resource.key}: {i.error}" for i in items if i.result in ("failed", "skipped")]
    assert not failed, failed
    return items


def admin(standin: OpenSearchStandin, method: str, path: str, body: Any = None) -> requests.Response:
    """A request as the master user, the way an administrator edits the domain by hand."""
    headers = XSRF if path.startswith("/_dashboards") else {}
    return requests.request(method, standin.url + path, json=body, auth=ADMIN, headers=headers, timeout=30)


def mapping(standin: OpenSearchStandin, role: str) -> dict[str, Any] | None:
    reply = admin(standin, "GET", f"{API}/rolesmapping/{role}")
    if reply.status_code == 404:
        return None
    assert reply.status_code == 200, reply.text
    return reply.json()[role]
