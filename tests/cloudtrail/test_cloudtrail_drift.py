"""Changes made by hand after `up`: `plan` shows them (and changes nothing), `up` repairs them in place,
and the run after that writes nothing again."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from logpipe.cli import main
from tests.cloudtrail.support import (
    BUCKET,
    LOG_GROUP,
    TRAIL,
    TRAIL_ARN,
    bucket_policy,
    client,
    cloudtrail_bucket_policy,
    make_bucket,
    plan,
    retention,
    trail,
    up,
)


@pytest.fixture
def deployed(lab: dict, make_run: Any, write_config: Callable[..., Path]) -> Path:
    up(make_run())
    return write_config()


def cli(config: Path, *args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(main, ["--config", str(config), "-o", "json", *args], catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def planned(config: Path) -> dict[str, dict[str, Any]]:
    code, document = cli(config, "plan", "cloudtrail")
    assert code == 0, document
    assert document["api_calls"]["write"] == 0
    return {f"{c['kind']}:{c['name']}": c for c in document["changes"]}


def repair(config: Path) -> list[str]:
    """`up` then a second `up`: returns the first one's write calls; the second must make none."""
    code, document = cli(config, "up", "cloudtrail")
    assert code == 0, document
    assert {c["result"] for c in document["changes"]} == {"updated"}
    code, again = cli(config, "up", "cloudtrail")
    assert code == 0 and again["api_calls"]["write"] == 0 and again["changes"] == []
    return sorted({f"{c['kind']}:{c['name']}" for c in document["changes"]})


def test_altered_retention_is_shown_and_restored(deployed: Path) -> None:
    client("logs").put_retention_policy(logGroupName=LOG_GROUP, retentionInDays=7)
    changes = planned(deployed)
    assert list(changes) == [f"log-group:{LOG_GROUP}"]
    assert changes[f"log-group:{LOG_GROUP}"]["action"] == "update"
    assert changes[f"log-group:{LOG_GROUP}"]["changes"] == {"retention_days": {"from": 7, "to": 30}}
    assert retention() == 7, "plan must not change anything"

    assert repair(deployed) == [f"log-group:{LOG_GROUP}"]
    assert retention() == 30


def test_altered_event_selectors_are_shown_and_restored(deployed: Path) -> None:
    ct = client("cloudtrail")
    before = ct.get_event_selectors(TrailName=TRAIL)["AdvancedEventSelectors"]
    # Someone narrows the trail to write-only management events, dropping the S3 data events.
    ct.put_event_selectors(
        TrailName=TRAIL,
        AdvancedEventSelectors=[
            {
                "Name": "write only",
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Management"]},
                    {"Field": "readOnly", "Equals": ["false"]},
                ],
            }
        ],
    )
    changes = planned(deployed)
    assert list(changes) == [f"cloudtrail-trail:{TRAIL}"]
    assert set(changes[f"cloudtrail-trail:{TRAIL}"]["changes"]) == {"event_selectors"}

    arn_before = trail()["TrailARN"]
    assert repair(deployed) == [f"cloudtrail-trail:{TRAIL}"]
    after = ct.get_event_selectors(TrailName=TRAIL)["AdvancedEventSelectors"]
    assert sorted(after, key=lambda s: s["Name"]) == sorted(before, key=lambda s: s["Name"])
    assert trail()["TrailARN"] == arn_before


def test_basic_event_selectors_set_by_hand_are_replaced_by_the_advanced_ones(deployed: Path) -> None:
    ct = client("cloudtrail")
    ct.put_event_selectors(
        TrailName=TRAIL, EventSelectors=[{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}]
    )
    assert set(planned(deployed)[f"cloudtrail-trail:{TRAIL}"]["changes"]) == {"event_selectors"}
    repair(deployed)
    selectors = ct.get_event_selectors(TrailName=TRAIL)
    assert not selectors.get("EventSelectors")
    assert len(selectors["AdvancedEventSelectors"]) == 2


def test_stopped_logging_is_shown_and_restarted_in_place(deployed: Path) -> None:
    ct = client("cloudtrail")
    ct.stop_logging(Name=TRAIL)
    changes = planned(deployed)
    assert list(changes) == [f"cloudtrail-trail:{TRAIL}"]
    assert changes[f"cloudtrail-trail:{TRAIL}"]["changes"] == {"logging": {"from": False, "to": True}}
    assert changes[f"cloudtrail-trail:{TRAIL}"]["state"] == "drifted"

    code, status = cli(deployed, "status", "cloudtrail")
    assert code == 1 and status["healthy"] is False
    states = {f"{r['kind']}:{r['name']}": r["state"] for r in status["resources"]}
    assert states[f"cloudtrail-trail:{TRAIL}"] == "drifted"
    assert trail_logging(status) == {"value": "off", "ok": False}

    assert repair(deployed) == [f"cloudtrail-trail:{TRAIL}"]
    assert ct.get_trail_status(Name=TRAIL)["IsLogging"] is True
    code, status = cli(deployed, "status", "cloudtrail")
    assert {r["state"] for r in status["resources"]} <= {"ok", "external"}
    assert trail_logging(status) == {"value": "on", "ok": True}


def trail_logging(status: dict[str, Any]) -> dict[str, Any]:
    row = next(h for h in status["health"] if h["check"] == "trail logging")
    return {"value": row["value"], "ok": row["ok"]}


def test_trail_settings_changed_by_hand_are_restored_with_update_trail(deployed: Path, make_run: Any) -> None:
    ct = client("cloudtrail")
    ct.update_trail(Name=TRAIL, EnableLogFileValidation=False, IsMultiRegionTrail=False)
    changes = planned(deployed)[f"cloudtrail-trail:{TRAIL}"]["changes"]
    assert set(changes) == {"log_file_validation", "multi_region"}

    run = make_run()
    up(run)
    assert run.counter.writes == ["cloudtrail:UpdateTrail"]
    found = trail()
    assert found["LogFileValidationEnabled"] is True
    assert found["IsMultiRegionTrail"] is True
    assert found["TrailARN"] == TRAIL_ARN


def test_loosened_bucket_policy_is_shown_and_restored(deployed: Path) -> None:
    wanted = bucket_policy(BUCKET)
    loose = json.loads(json.dumps(wanted))
    for statement in loose["Statement"]:
        statement["Condition"]["StringEquals"].pop("aws:SourceArn")
    client("s3").put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(loose))
    changes = planned(deployed)
    assert set(changes[f"s3-bucket:{BUCKET}"]["changes"]) == {"bucket_policy"}
    assert repair(deployed) == [f"s3-bucket:{BUCKET}"]
    assert bucket_policy(BUCKET) == wanted


def test_subscription_filter_pointed_elsewhere_is_pointed_back(deployed: Path) -> None:
    logs = client("logs")
    lam = client("lambda")
    function_arn = lam.get_function(FunctionName="demogo-cloudtrail-indexer")["Configuration"]["FunctionArn"]
    # A second function CloudWatch Logs may invoke, as the console's LogsToElasticsearch would be.
    role = client("iam").get_role(RoleName="demogo-cloudtrail-indexer-role")["Role"]["Arn"]
    other = lam.create_function(
        FunctionName="LogsToElasticsearch_demogo",
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )["FunctionArn"]
    lam.add_permission(
        FunctionName="LogsToElasticsearch_demogo",
        StatementId="logs",
        Action="lambda:InvokeFunction",
        Principal="logs.amazonaws.com",
    )
    logs.put_subscription_filter(
        logGroupName=LOG_GROUP, filterName="demogo-cloudtrail", filterPattern="", destinationArn=other
    )
    changes = planned(deployed)["subscription-filter:demogo-cloudtrail"]["changes"]
    assert changes == {"destination_arn": {"from": other, "to": function_arn}}
    assert repair(deployed) == ["subscription-filter:demogo-cloudtrail"]
    filters = logs.describe_subscription_filters(logGroupName=LOG_GROUP)["subscriptionFilters"]
    assert [f["destinationArn"] for f in filters] == [function_arn]


def test_key_prefix_set_by_hand_is_removed(lab: dict, make_run: Any) -> None:
    # A named bucket whose policy lets CloudTrail write anywhere in it, so AWS accepts any prefix.
    policy = cloudtrail_bucket_policy("demogo-lab-trail-files")
    policy["Statement"][1]["Resource"] = "arn:aws:s3:::demogo-lab-trail-files/*"
    make_bucket("demogo-lab-trail-files", policy)
    overrides = {"pipelines": {"cloudtrail": {"bucket": "demogo-lab-trail-files"}}}
    up(make_run(overrides))
    client("cloudtrail").update_trail(Name=TRAIL, S3KeyPrefix="moved")

    items = plan(make_run(overrides))
    assert items[f"cloudtrail-trail:{TRAIL}"].changes == {"s3_key_prefix": ("moved", None)}
    run = make_run(overrides)
    up(run)
    assert run.counter.writes == ["cloudtrail:UpdateTrail"]
    assert not trail().get("S3KeyPrefix")
