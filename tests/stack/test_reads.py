"""Each resource is read once: a no-op `up all` or `plan` makes at most one read call per managed
resource on average and never asks AWS the same question twice; `status` stays within 1.2 plus
one search per pipeline."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from logpipe.aws import Aws, is_read_operation
from tests.stack.support import Stack


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    """Every AWS read call of the runs that follow: (service, API, request)."""
    calls: list[tuple[str, str, str]] = []
    count = Aws._count

    def spy(self: Aws, model: Any, **kwargs: Any) -> None:
        if is_read_operation(model.name):
            request = kwargs.get("params") or {}
            body = request.get("body")
            shown = body.decode() if isinstance(body, bytes) else json.dumps(body, sort_keys=True, default=str)
            calls.append((model.service_model.endpoint_prefix, model.name, f"{request.get('url')} {shown}"))
        count(self, model, **kwargs)

    monkeypatch.setattr(Aws, "_count", spy)
    return calls


def reads(document: dict[str, Any], service: str | None = None) -> int:
    by_service = document["api_calls"]["by_service"]
    if service is not None:
        return int(by_service.get(service, {}).get("read", 0))
    return int(document["api_calls"]["read"])


def test_no_op_runs_read_each_resource_once(stack: Stack, asked: list[tuple[str, str, str]]) -> None:
    first, _ = stack.up()
    assert first.exit_code == 0, first.output

    status = stack.run("-o", "json", "status")
    report = json.loads(status.stdout)
    managed = sum(1 for r in report["resources"] if r["state"] != "external")
    pipelines = len({r["pipeline"] for r in report["resources"]})
    # status: at most 1.2 reads per resource, plus a freshness search per pipeline.
    assert report["api_calls"]["write"] == 0
    assert reads(report) <= 1.2 * managed + pipelines, report["api_calls"]["by_service"]

    for command in (("up", "all"), ("plan",)):
        asked.clear()
        result = stack.run("-o", "json", *command)
        document = json.loads(result.stdout)
        assert result.exit_code == 0, result.output
        assert document["api_calls"]["write"] == 0
        assert reads(document) <= managed, (command, document["api_calls"]["by_service"])
        # Batched where the API allows: every Config rule in one DescribeConfigRules, every role (with
        # its policies and tags) in one GetAccountAuthorizationDetails, tags in one tagging-API listing.
        assert reads(document, "config") <= 4  # rules, recorders, recorder status, delivery channels
        assert reads(document, "iam") == 1
        assert reads(document, "tagging") <= 1
        twice = {call: n for call, n in Counter(asked).items() if n > 1}
        assert twice == {}, (command, twice)


def test_kinds_read_alone_need_nothing_from_what_they_depend_on(stack: Stack) -> None:
    # The engine reads these kinds at once, in parallel with what they depend on; that is only
    # right if their read, on a run that knows nothing yet, finds what the ordered read finds.
    from logpipe.engine import graph
    from logpipe.session import Options, Run

    first, _ = stack.up()
    assert first.exit_code == 0, first.output
    ordered = Run(Options(config=str(stack.config)))
    items = ordered.engine.read_all(ordered.declare(ordered.pipelines(("all",))))
    seen = {i.resource.key: i.observed for i in items}
    alone = Run(Options(config=str(stack.config)))
    checked = set()
    for resource in graph.collect(r for rs in alone.declare(alone.pipelines(("all",))).values() for r in rs):
        if not resource.reads_alone:
            continue
        observed, expected = resource.read(alone.ctx), seen[resource.key]
        assert observed is not None and expected is not None, resource.key
        assert (observed.props, observed.owned) == (expected.props, expected.owned), resource.key
        checked.add(resource.kind)
    assert {"iam-role", "firehose-stream", "lambda-function", "config-rule", "s3-bucket"} <= checked
