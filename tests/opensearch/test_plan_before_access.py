"""Planning against a domain whose access policy does not let logpipe in yet, or that has no FGAC."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from logpipe.sandbox.opensearch_standin import OpenSearchStandin
from tests.conftest import REGION
from tests.opensearch.conftest import up

DENIAL = {
    "Message": "User: arn:aws:sts::123456789012:assumed-role/Admin/alice is not authorized to perform: "
    "es:ESHttpGet because no resource-based policy allows the es:ESHttpGet action"
}


class _Refuse(BaseHTTPRequestHandler):
    """A domain endpoint whose access policy refuses every request (the edge's IAM 403)."""

    def _deny(self) -> None:
        body = json.dumps(DENIAL).encode()
        self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _deny

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def refusing_endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def plan(run: Any) -> list[Any]:
    pipes = run.pipelines(("opensearch",))
    run.preflight(pipes)
    return run.engine.plan(run.declare(pipes))


def test_refusal_before_logpipes_policy_exists_is_planned_not_a_problem(
    lab: dict[str, Any], make_run: Callable[..., Any], refusing_endpoint: str
) -> None:
    run = make_run({"opensearch": {"endpoint_url": refusing_endpoint}})

    items = plan(run)

    assert run.engine.problems(items) == []
    assert {
        i.action for i in items if i.resource.kind.startswith("opensearch-") and i.resource.kind != "opensearch-domain"
    } == {"create"}


def test_refusal_with_logpipes_policy_in_place_is_reported(
    lab: dict[str, Any], make_run: Callable[..., Any], refusing_endpoint: str
) -> None:
    from logpipe.pipelines import shared
    from logpipe.resources.opensearch_access_policy import OpenSearchAccessPolicy

    setup = make_run()
    setup.engine.apply(setup.engine.plan({"opensearch": [OpenSearchAccessPolicy(shared.domain(setup.ctx))]}))

    run = make_run({"opensearch": {"endpoint_url": refusing_endpoint}})
    problems = run.engine.problems(plan(run))

    assert problems and all("403" in p and "access policy" in p for p in problems)


def test_without_fine_grained_access_control_no_role_or_mapping_is_touched(
    lab: dict[str, Any], make_run: Callable[..., Any], standin: OpenSearchStandin
) -> None:
    boto3.client("opensearch", region_name=REGION).create_domain(DomainName="plain-domain")
    run = make_run({"opensearch": {"domain": "plain-domain", "endpoint_url": standin.url}})

    items = up(run)

    actions = {i.resource.kind: i.action for i in items}
    assert actions["opensearch-role"] == "noop" and actions["opensearch-role-mapping"] == "noop"
    assert not [r for r in standin.requests if "_security" in r.path]
    assert actions["opensearch-index-template"] == "create"
