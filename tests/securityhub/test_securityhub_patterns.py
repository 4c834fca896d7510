"""The EventBridge pattern each product's rule carries, checked on the real Security Hub events
in samples/, with a matcher that implements EventBridge's semantics for the operators logpipe
uses (moto's own matcher cannot look inside ``detail.findings[]``)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from logpipe.securityhub_patterns import (
    UnsupportedPattern,
    findings_pattern,
    matches,
    product_arn,
    product_arn_problem,
    product_key,
)
from tests.conftest import SAMPLES


def load_event() -> dict[str, Any]:
    return json.loads((SAMPLES / "securityhub_imported_event.json").read_text())


def load_events() -> list[dict[str, Any]]:
    lines = (SAMPLES / "securityhub_imported_events.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def asff(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / f"asff_{name}.json").read_text())


def envelope(finding: dict[str, Any]) -> dict[str, Any]:
    """The sample event's envelope around another finding, as Security Hub would send it."""
    event = load_event()
    region = finding["ProductArn"].split(":")[3]
    event["region"] = region
    event["account"] = finding["AwsAccountId"]
    event["resources"] = [finding["ProductFields"]["aws/securityhub/FindingId"]]
    event["detail"] = {"findings": [finding]}
    return event


def guardduty_finding() -> dict[str, Any]:
    """The GuardDuty guide's finding, with its ARNs' published typo fixed.

    The guide prints ``arn:aws::securityhub:…`` (an extra colon); real findings read
    ``arn:aws:securityhub:…``. The published text is kept in samples/ and checked as is below.
    """
    text = json.dumps(asff("guardduty")).replace("arn:aws::", "arn:aws:")
    return json.loads(text)


def pattern_for(products: list[str], region: str) -> dict[str, Any]:
    return findings_pattern([product_arn(p, partition="aws", region=region) for p in products])


# products and their pattern ---------------------------------------------------------------


def test_product_short_names_become_aws_product_arns() -> None:
    assert product_arn("guardduty", partition="aws", region="ap-northeast-2") == (
        "arn:aws:securityhub:ap-northeast-2::product/aws/guardduty"
    )
    assert product_arn("config", partition="aws-cn", region="cn-north-1") == (
        "arn:aws-cn:securityhub:cn-north-1::product/aws/config"
    )
    third_party = "arn:aws:securityhub:ap-northeast-2:955745153808:product/crowdstrike/crowdstrike-falcon"
    assert product_arn(third_party, partition="aws", region="ap-northeast-2") == third_party


def test_product_key_names_streams_and_indices() -> None:
    assert product_key("guardduty") == "guardduty"
    assert product_key("arn:aws:securityhub:us-east-1::product/aws/inspector") == "inspector"
    assert (
        product_key("arn:aws:securityhub:us-east-1:955745153808:product/crowdstrike/crowdstrike-falcon")
        == "crowdstrike-crowdstrike-falcon"
    )
    with pytest.raises(ValueError):
        product_key("arn:aws:s3:::not-a-product")


def test_a_product_arn_of_another_region_is_reported() -> None:
    problem = product_arn_problem("arn:aws:securityhub:us-east-1::product/aws/inspector", region="ap-northeast-2")
    assert problem is not None and "never match" in problem
    assert (
        product_arn_problem("arn:aws:securityhub:ap-northeast-2::product/aws/inspector", region="ap-northeast-2")
        is None
    )
    assert product_arn_problem("guardduty", region="ap-northeast-2") is None
    assert "not a Security Hub product ARN" in (product_arn_problem("arn:aws:sns:x", region="x") or "")


def test_pattern_selects_imported_findings_of_one_product() -> None:
    assert findings_pattern(["arn:aws:securityhub:us-west-2::product/aws/guardduty"]) == {
        "source": ["aws.securityhub"],
        "detail-type": ["Security Hub Findings - Imported"],
        "detail": {"findings": {"ProductArn": ["arn:aws:securityhub:us-west-2::product/aws/guardduty"]}},
    }


# the real sample events --------------------------------------------------------------------


def test_security_hub_control_findings_match_only_the_securityhub_product() -> None:
    events = [load_event(), *load_events()]
    assert len(events) == 4
    for event in events:
        assert matches(pattern_for(["securityhub"], "us-west-2"), event)
        assert not matches(pattern_for(["guardduty"], "us-west-2"), event)
        assert not matches(pattern_for(["config"], "us-west-2"), event)
        # Same product, other region: a rule only sees its own region's product ARN.
        assert not matches(pattern_for(["securityhub"], "us-east-1"), event)


def test_config_finding_matches_the_config_rule_only() -> None:
    event = envelope(asff("config"))
    assert matches(pattern_for(["config"], "eu-central-1"), event)
    assert not matches(pattern_for(["guardduty"], "eu-central-1"), event)
    assert not matches(pattern_for(["securityhub"], "eu-central-1"), event)


def test_guardduty_finding_matches_the_guardduty_rule_only() -> None:
    event = envelope(guardduty_finding())
    assert matches(pattern_for(["guardduty"], "us-east-1"), event)
    assert not matches(pattern_for(["config"], "us-east-1"), event)
    # One rule may list several products; its stream then receives each of them.
    assert matches(pattern_for(["config", "guardduty"], "us-east-1"), event)


def test_the_guides_malformed_guardduty_arn_is_not_matched() -> None:
    # EventBridge compares ARNs character by character: the guide's typo would not match.
    event = envelope(asff("guardduty"))
    assert event["detail"]["findings"][0]["ProductArn"] == "arn:aws::securityhub:us-east-1::product/aws/guardduty"
    assert not matches(pattern_for(["guardduty"], "us-east-1"), event)


def test_other_event_types_and_sources_are_not_matched() -> None:
    pattern = pattern_for(["securityhub"], "us-west-2")
    custom_action = load_event()
    custom_action["detail-type"] = "Security Hub Findings - Custom Action"
    assert not matches(pattern, custom_action)
    spoofed = load_event()
    spoofed["source"] = "my.app"
    assert not matches(pattern, spoofed)
    no_findings = load_event()
    no_findings["detail"] = {}
    assert not matches(pattern, no_findings)


def test_any_finding_in_the_array_may_match() -> None:
    event = load_event()
    other = copy.deepcopy(event["detail"]["findings"][0])
    other["ProductArn"] = "arn:aws:securityhub:us-west-2::product/aws/guardduty"
    event["detail"]["findings"].insert(0, other)
    assert matches(pattern_for(["guardduty"], "us-west-2"), event)
    assert matches(pattern_for(["securityhub"], "us-west-2"), event)
    assert not matches(pattern_for(["config"], "us-west-2"), event)


# EventBridge semantics of the matcher -----------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        ({"a": ["x"]}, {"a": "x"}, True),
        ({"a": ["x", "y"]}, {"a": "y"}, True),
        ({"a": ["x"]}, {"a": "X"}, False),  # case-sensitive
        ({"a": ["x"]}, {"b": "x"}, False),  # a named field must be present
        ({"a": ["x"], "b": ["y"]}, {"a": "x", "b": "z"}, False),  # every field must match
        ({"a": ["x"]}, {"a": ["w", "x"]}, True),  # array: non-empty intersection
        ({"a": ["x"]}, {"a": []}, False),
        ({"a": [5]}, {"a": 5.0}, True),  # numbers compare as numbers
        ({"a": [5]}, {"a": "5"}, False),  # ... and never equal strings
        ({"a": [None]}, {"a": None}, True),
        ({"a": [None]}, {}, False),
        ({"a": [True]}, {"a": 1}, False),
        ({"a": ["x"]}, {"a": {"x": 1}}, False),  # an object is not a value
        ({"a": {"b": ["x"]}}, {"a": {"b": "x"}}, True),
        ({"a": {"b": ["x"]}}, {"a": "x"}, False),  # nesting must be the same
        ({"a": {"b": ["x"]}}, {"a": [{"b": "y"}, {"b": "x"}]}, True),  # arrays of objects
        ({"a": {"b": ["x"], "c": ["y"]}}, {"a": [{"b": "x", "c": "y"}]}, True),
    ],
)
def test_matcher_semantics(pattern: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    assert matches(pattern, event) is expected


@pytest.mark.parametrize(
    "pattern",
    [
        {},
        {"a": []},
        {"a": "x"},
        {"a": {}},
        {"a": [{"prefix": "x"}]},
        {"a": [{"anything-but": ["x"]}]},
    ],
)
def test_matcher_refuses_what_it_does_not_implement(pattern: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedPattern):
        matches(pattern, {"a": "x"})


def test_matcher_agrees_with_eventbridge_test_event_pattern(moto: None) -> None:
    """Cross-check with TestEventPattern (moto's, with the array gap filled) on every case above."""
    import boto3

    events = boto3.client("events", region_name="us-west-2")
    candidates = [load_event(), *load_events(), envelope(asff("config")), envelope(guardduty_finding())]
    patterns = [
        pattern_for([p], region)
        for p in ("securityhub", "guardduty", "config")
        for region in ("us-west-2", "us-east-1", "eu-central-1")
    ]
    outcomes = []
    for event in candidates:
        for pattern in patterns:
            aws = events.test_event_pattern(EventPattern=json.dumps(pattern), Event=json.dumps(event))["Result"]
            assert matches(pattern, event) is aws, (pattern, event["detail"]["findings"][0]["ProductArn"])
            outcomes.append(aws)
    assert outcomes.count(True) == len(candidates)  # each event is routed by exactly one of these rules
