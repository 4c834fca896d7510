"""IAM propagation and slow changes, as AWS shows them (moto_gaps.eventual), ridden out by `up all`."""

from __future__ import annotations

import itertools
import re

import pytest

from logpipe.resources.opensearch_access_policy import POLICY_APPLY_TIMEOUT_SECONDS
from logpipe.sandbox.moto_gaps import eventual
from tests.stack.support import Stack
from tests.support import FakeClock


def waiting_lines(stderr: str) -> list[str]:
    return [line.strip() for line in stderr.splitlines() if line.strip().startswith("waiting for")]


def test_up_all_rides_out_iam_propagation(stack: Stack) -> None:
    """Real time, real parallel engine: a role or permission younger than 2 s is refused as AWS does."""
    eventual.configure(iam_propagation=2.0)

    result, document = stack.up()

    assert result.exit_code == 0, result.output
    assert document["ok"] is True and {c["result"] for c in document["changes"]} == {"created"}
    # AWS refused the young roles and permission (a write call per refusal) ...
    writes = document["api_calls"]["write_calls"]
    assert writes.count("lambda:CreateFunction") > 4
    assert writes.count("firehose:CreateDeliveryStream") > 5
    assert writes.count("config:PutConfigurationRecorder") > 1
    # ... and up said each time what it was waiting for, and for how long.
    waits = waiting_lines(result.stderr)
    for expected in (
        r"IAM role demogo-\S+-role to propagate \(Lambda CreateFunction: role cannot be assumed\)",
        r"IAM role \S+-firehose to propagate \(Firehose CreateDeliveryStream: unable to assume role\)",
        r"IAM role demogo-cloudtrail-logs-role and the bucket policy of \S+ to propagate \(CloudTrail CreateTrail",
        r"IAM role AWSServiceRoleForConfig to propagate \(Config PutConfigurationRecorder: InvalidRoleException\)",
        r"the permission for CloudWatch Logs on Lambda function demogo-cloudtrail-indexer to propagate",
    ):
        assert any(re.match("waiting for " + expected + r".* … \d+ s$", w) for w in waits), (expected, waits)

    again, settled = stack.up()
    assert again.exit_code == 0 and settled["api_calls"]["write"] == 0


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """One fake clock for logpipe's waits and the emulated AWS: minutes pass without sleeping."""
    fake = FakeClock()
    monkeypatch.setattr("logpipe.engine.context.Clock", lambda: fake)
    eventual.configure(clock=fake.now)
    return fake


def test_slow_changes_are_waited_for_visibly_with_backoff(stack: Stack, clock: FakeClock) -> None:
    eventual.configure(slow_change=240.0)

    result, _ = stack.up()

    assert result.exit_code == 0, result.output
    waits = waiting_lines(result.stderr)
    policy = [w for w in waits if "OpenSearch domain demogo-opensearch to apply its new access policy" in w]
    recorder = [w for w in waits if "AWS Config recorder demogo-recorder to make its first recording" in w]
    assert policy and all("(now Processing)" in w for w in policy)
    assert recorder and all("(recording on, last status pending)" in w for w in recorder)
    elapsed = [int(w.rsplit("… ", 1)[1].removesuffix(" s")) for w in policy]
    assert elapsed == sorted(elapsed) and elapsed[-1] >= 60  # a live count of the time waited
    gaps = [b - a for a, b in itertools.pairwise(elapsed)]
    assert max(gaps) > min(gaps)  # polled with backoff, not at a fixed interval
    assert max(clock.slept) <= 30.0


def test_a_wait_past_its_timeout_stops_says_what_to_run_next_and_other_pipelines_went_on(
    stack: Stack, clock: FakeClock
) -> None:
    eventual.configure(slow_change=POLICY_APPLY_TIMEOUT_SECONDS + 600)

    result, document = stack.up()

    assert result.exit_code == 1
    by_key = {(c["kind"], c["name"]): c for c in document["changes"]}
    policy = by_key[("opensearch-access-policy", "demogo-opensearch")]
    assert policy["result"] == "failed"
    assert policy["error"].startswith(
        f"timed out after {int(POLICY_APPLY_TIMEOUT_SECONDS)} s waiting for OpenSearch domain demogo-opensearch "
        "to apply its new access policy (still now Processing);"
    )
    assert "run `logpipe up" in policy["error"]
    # The AWS side of every pipeline went on meanwhile; only what needs the new policy waits.
    for key in (
        ("firehose-stream", "demogo-dns"),
        ("cloudtrail-trail", "demogo-trail"),
        ("lambda-function", "demogo-cloudtrail-indexer"),
    ):
        assert by_key[key]["result"] == "created", by_key[key]
    assert by_key[("opensearch-index-template", "logpipe-dns")]["result"] == "skipped"

    eventual.configure(slow_change=0.0)
    rerun, finished = stack.up()
    assert rerun.exit_code == 0, rerun.output
    assert finished["ok"] is True
