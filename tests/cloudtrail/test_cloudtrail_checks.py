"""Config-level preflight of the CloudTrail pipeline: every problem at once, before any AWS write."""

from __future__ import annotations

from typing import Any

import pytest

from logpipe.errors import PreflightError


def test_default_lab_config_passes(moto: None, make_run: Any) -> None:
    run = make_run()
    run.preflight(run.pipelines(("cloudtrail",)))


def test_bad_names_are_all_reported_together_and_nothing_is_written(moto: None, make_run: Any) -> None:
    run = make_run(
        {
            "backup_bucket": "shared-logs-bucket",
            "pipelines": {
                "cloudtrail": {
                    "trail_name": "-bad--trail",
                    "log_group": "cloud trail logs",
                    "subscription_filter": "demo:*",
                    "index_prefix": "CWL",
                    "failed_prefix": "failed/*",
                    "bucket": "shared-logs-bucket",
                }
            },
        }
    )
    with pytest.raises(PreflightError) as refused:
        run.preflight(run.pipelines(("cloudtrail",)))
    problems = "\n".join(refused.value.problems)
    for expected in (
        "pipelines.cloudtrail.trail_name: '-bad--trail'",
        "pipelines.cloudtrail.log_group: 'cloud trail logs'",
        "pipelines.cloudtrail.subscription_filter: 'demo:*'",
        "pipelines.cloudtrail.index_prefix: 'CWL'",
        "pipelines.cloudtrail.failed_prefix: 'failed/*'",
        "pipelines.cloudtrail.bucket: shared-logs-bucket is also the backup bucket",
    ):
        assert expected in problems, expected
    assert len(refused.value.problems) == 6
    assert run.counter.summary()["write"] == 0


@pytest.mark.parametrize("name", ["abc", "demo_trail.2024", "A" * 128])
def test_valid_trail_names_pass(moto: None, make_run: Any, name: str) -> None:
    run = make_run({"pipelines": {"cloudtrail": {"trail_name": name}}})
    run.preflight(run.pipelines(("cloudtrail",)))


@pytest.mark.parametrize("name", ["ab", "A" * 129, "trail-", "my_-trail", "has space"])
def test_invalid_trail_names_are_refused(moto: None, make_run: Any, name: str) -> None:
    run = make_run({"pipelines": {"cloudtrail": {"trail_name": name}}})
    with pytest.raises(PreflightError, match=r"pipelines\.cloudtrail\.trail_name"):
        run.preflight(run.pipelines(("cloudtrail",)))
