"""An account where somebody already runs AWS Config, Security Hub and GuardDuty: logpipe adds
only its routes (rules, streams, roles), converges nothing but GuardDuty's publishing frequency,
and teardown leaves the three services exactly as they were."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.securityhub.support import (
    CHANNEL,
    CONFIG_BUCKET,
    PRODUCTS,
    RECORDER,
    SLR,
    client,
    detector,
    hub_tags,
    plan,
    recording,
    security_hub_enabled,
    stream,
    teardown,
    turn_services_on_by_hand,
    up,
)

SERVICE_KEYS = (
    f"config-recorder:{RECORDER}",
    f"s3-bucket:{CONFIG_BUCKET}",
    f"config-delivery-channel:{CHANNEL}",
    "securityhub-hub:default",
    "guardduty-detector:default",
)


@pytest.fixture
def theirs(lab: dict) -> dict[str, Any]:
    return turn_services_on_by_hand(frequency="SIX_HOURS")


def test_plan_shows_only_the_frequency_change_on_their_services(theirs: dict[str, Any], make_run: Any) -> None:
    run = make_run()
    items = plan(run)
    assert items["guardduty-detector:default"].action == "update"
    assert items["guardduty-detector:default"].changes == {
        "finding_publishing_frequency": ("SIX_HOURS", "FIFTEEN_MINUTES")
    }
    for key in SERVICE_KEYS[:-1]:
        assert items[key].action == "noop", key
        assert items[key].state == "external", key
    assert "default" in items[f"config-recorder:{RECORDER}"].detail
    assert "not needed" in items[f"s3-bucket:{CONFIG_BUCKET}"].detail
    assert run.counter.summary()["write"] == 0


def test_up_adds_routes_and_uses_their_services_as_they_are(theirs: dict[str, Any], make_run: Any) -> None:
    items = up(make_run())
    results = {k: i.result for k, i in items.items()}
    assert [k for k in SERVICE_KEYS if results[k]] == ["guardduty-detector:default"]
    assert results["guardduty-detector:default"] == "updated"
    created = {k.split(":", 1)[0] for k, r in results.items() if r == "created"}
    assert created == {
        "config-rule",
        "eventbridge-rule",
        "eventbridge-target",
        "firehose-stream",
        "iam-role",
        "lambda-function",
        "log-group",
        "log-stream",
        "s3-bucket",  # the shared backup bucket for failed documents, not a Config bucket
        # The pipeline's own OpenSearch pieces.
        "opensearch-access-policy",
        "opensearch-index-template",
        "opensearch-role",
        "opensearch-role-mapping",
        "opensearch-index-pattern",
        "opensearch-dashboard",
    }
    assert [k for k, r in results.items() if r == "created" and k.startswith("s3-bucket:")] == [
        "s3-bucket:demogo-kdf-backup"
    ]

    config = client("config")
    [recorder] = config.describe_configuration_recorders()["ConfigurationRecorders"]
    assert recorder["name"] == "default"
    assert recorder["roleARN"] == theirs["recorder_role"]
    assert recorder["recordingGroup"]["includeGlobalResourceTypes"] is False  # not "fixed"
    assert config.describe_delivery_channels()["DeliveryChannels"] == [
        {"name": "default", "s3BucketName": "their-config-bucket"}
    ]
    assert CONFIG_BUCKET not in [b["Name"] for b in client("s3").list_buckets()["Buckets"]]
    with pytest.raises(client("iam").exceptions.NoSuchEntityException):
        client("iam").get_role(RoleName=SLR)  # their recorder has its own role
    assert hub_tags() == {}
    found = detector()
    assert found is not None
    assert found["Id"] == theirs["detector_id"]
    assert found["FindingPublishingFrequency"] == "FIFTEEN_MINUTES"
    assert not found.get("Tags")
    for product in PRODUCTS:
        assert client("events").list_targets_by_rule(Rule=stream(product))["Targets"]

    again = make_run()
    up(again)
    assert again.counter.summary()["write"] == 0, again.counter.writes


def test_teardown_leaves_their_services_on(theirs: dict[str, Any], make_run: Any) -> None:
    up(make_run())
    items = teardown(make_run())
    assert not [k for k, i in items.items() if i.result in ("failed", "skipped")]
    for key in SERVICE_KEYS:
        assert items[key].action == "keep", key
    assert "not created by logpipe" in items["guardduty-detector:default"].note

    assert [r["name"] for r in client("config").describe_configuration_recorders()["ConfigurationRecorders"]] == [
        "default"
    ]
    assert recording("default")
    assert [c["name"] for c in client("config").describe_delivery_channels()["DeliveryChannels"]] == ["default"]
    assert security_hub_enabled()
    assert detector() is not None
    # What logpipe added is gone.
    assert client("config").describe_config_rules()["ConfigRules"] == []
    assert client("events").list_rules(NamePrefix="demogo-")["Rules"] == []
    assert client("firehose").list_delivery_streams()["DeliveryStreamNames"] == []


def test_a_stopped_recorder_of_theirs_is_reported_not_started(lab: dict, make_run: Any) -> None:
    config = client("config")
    config.put_configuration_recorder(
        ConfigurationRecorder={"name": "default", "roleARN": "arn:aws:iam::123456789012:role/their-config-role"}
    )
    run = make_run()
    items = up(run)
    recorder = items[f"config-recorder:{RECORDER}"]
    assert recorder.state == "external"
    assert "not recording" in recorder.detail
    assert items[f"config-delivery-channel:{CHANNEL}"].result == ""
    assert config.describe_delivery_channels()["DeliveryChannels"] == []
    assert not recording("default")
    assert [r["name"] for r in config.describe_configuration_recorders()["ConfigurationRecorders"]] == ["default"]


def test_a_config_rule_already_evaluating_the_same_check_is_used_as_it_is(lab: dict, make_run: Any) -> None:
    turn_services_on_by_hand()
    config = client("config")
    config.put_config_rule(
        ConfigRule={
            "ConfigRuleName": "cloudtrail-enabled",
            "Source": {"Owner": "AWS", "SourceIdentifier": "CLOUD_TRAIL_ENABLED"},
        }
    )
    items = up(make_run())
    ours = items["config-rule:demogo-cloud-trail-enabled"]
    assert ours.result == ""
    assert ours.state == "external"
    assert "cloudtrail-enabled" in ours.detail
    names = [r["ConfigRuleName"] for r in config.describe_config_rules()["ConfigRules"]]
    assert "demogo-cloud-trail-enabled" not in names

    teardown(make_run())
    remaining = [r["ConfigRuleName"] for r in config.describe_config_rules()["ConfigRules"]]
    assert remaining == ["cloudtrail-enabled"]
    rule = config.describe_config_rules(ConfigRuleNames=["cloudtrail-enabled"])["ConfigRules"][0]
    assert json.dumps(rule["Source"]) == json.dumps({"Owner": "AWS", "SourceIdentifier": "CLOUD_TRAIL_ENABLED"})


def test_a_service_linked_rule_for_the_same_check_is_not_used_instead_of_logpipes(lab: dict, make_run: Any) -> None:
    # Security Hub's controls run on service-linked rules (securityhub-<rule>-<id>, CreatedBy set):
    # the service owns them and makes them even when other instances exist, so they stand in for
    # nothing logpipe declares.
    from moto.config.models import config_backends

    from tests.conftest import ACCOUNT, REGION

    turn_services_on_by_hand()
    config = client("config")
    linked = "securityhub-cloud-trail-enabled-a1b2c3"
    config.put_config_rule(
        ConfigRule={"ConfigRuleName": linked, "Source": {"Owner": "AWS", "SourceIdentifier": "CLOUD_TRAIL_ENABLED"}}
    )
    # moto refuses CreatedBy on PutConfigRule (as AWS does): set it as the service would.
    config_backends[ACCOUNT][REGION].config_rules[linked].created_by = "securityhub.amazonaws.com"
    assert config.describe_config_rules(ConfigRuleNames=[linked])["ConfigRules"][0]["CreatedBy"]

    items = up(make_run())
    ours = items["config-rule:demogo-cloud-trail-enabled"]
    assert ours.result == "created"
    names = {r["ConfigRuleName"] for r in config.describe_config_rules()["ConfigRules"]}
    assert {"demogo-cloud-trail-enabled", linked} <= names

    teardown(make_run())
    names = {r["ConfigRuleName"] for r in config.describe_config_rules()["ConfigRules"]}
    assert linked in names and "demogo-cloud-trail-enabled" not in names
