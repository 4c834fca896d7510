"""The EventBridge rules `up securityhub` creates, checked on the real Security Hub events in
samples/ and hundreds of variants of them: every finding has exactly one route. The matcher that
decides it implements EventBridge's semantics for the operators the rules use, checked on the
examples EventBridge and its rule engine (Event Ruler) document, and against moto."""

from __future__ import annotations

import copy
import json
from types import SimpleNamespace
from typing import Any

import pytest

from logpipe.pipelines import parse_config
from logpipe.pipelines.securityhub import routes
from logpipe.securityhub_patterns import (
    UnsupportedPattern,
    findings_pattern,
    matches,
    other_findings_pattern,
    product_arn,
    product_arn_problem,
    product_arn_wildcard,
    product_key,
)
from tests.conftest import LAB_CONFIG, deep_merge
from tests.securityhub.findings import (
    CUSTOM,
    PARTNER,
    REGIONS,
    asff,
    corpus,
    envelope,
    guardduty_finding,
    load_event,
    load_events,
    sample_events,
    with_product,
)

PARTNER_EAST = PARTNER.format(region="us-east-1")
CUSTOM_WEST = CUSTOM.format(region="eu-west-1")
PRODUCT_SETS = {
    "default": ["guardduty", "config"],
    "one": ["securityhub"],
    "many": ["guardduty", "config", "securityhub", "inspector", PARTNER_EAST, CUSTOM_WEST],
}


def rules(products: list[str], *, catch_all: bool = True) -> dict[str, dict[str, Any]]:
    """Route key -> event pattern, as `up securityhub` creates them for this config."""
    section = {"products": products, "catch_all": catch_all}
    config = parse_config(deep_merge(LAB_CONFIG, {"pipelines": {"securityhub": section}}))
    view: Any = SimpleNamespace(config=config, partition="aws")
    return {route.key: route.pattern for route in routes(view)}


def routed(rule_set: dict[str, dict[str, Any]], event: dict[str, Any]) -> list[str]:
    return [key for key, pattern in rule_set.items() if matches(pattern, event)]


def arn(name: str, region: str) -> str:
    return f"arn:aws:securityhub:{region}::product/aws/{name}"


# products and their patterns -------------------------------------------------------------


def test_product_short_names_become_aws_product_arns() -> None:
    assert product_arn("guardduty", partition="aws", region="ap-northeast-2") == arn("guardduty", "ap-northeast-2")
    assert product_arn("config", partition="aws-cn", region="cn-north-1") == (
        "arn:aws-cn:securityhub:cn-north-1::product/aws/config"
    )
    assert product_arn(PARTNER_EAST, partition="aws", region="ap-northeast-2") == PARTNER_EAST


def test_product_key_names_streams_and_indices() -> None:
    assert product_key("guardduty") == "guardduty"
    assert product_key("arn:aws:securityhub:us-east-1::product/aws/inspector") == "inspector"
    assert product_key(PARTNER_EAST) == "crowdstrike-crowdstrike-falcon"
    assert product_key(CUSTOM_WEST) == "111122223333-default"
    with pytest.raises(ValueError):
        product_key("arn:aws:s3:::not-a-product")


def test_a_rule_matches_its_product_in_any_region_and_nothing_else() -> None:
    assert product_arn_wildcard("guardduty", partition="aws") == "arn:aws:securityhub:*::product/aws/guardduty"
    assert product_arn_wildcard("config", partition="aws-cn") == "arn:aws-cn:securityhub:*::product/aws/config"
    # A configured ARN keeps its partition, account and product; only its region becomes a wildcard.
    assert product_arn_wildcard(PARTNER_EAST, partition="aws") == (
        "arn:aws:securityhub:*:955745153808:product/crowdstrike/crowdstrike-falcon"
    )
    assert product_arn_wildcard(CUSTOM_WEST, partition="aws") == (
        "arn:aws:securityhub:*:111122223333:product/111122223333/default"
    )


def test_a_product_arn_of_another_region_is_fine_another_partition_is_not() -> None:
    other_region = "arn:aws:securityhub:us-east-1::product/aws/inspector"
    assert product_arn_problem(other_region, partition="aws") is None
    problem = product_arn_problem("arn:aws-cn:securityhub:cn-north-1::product/aws/inspector", partition="aws")
    assert problem is not None and "never match" in problem
    assert product_arn_problem("guardduty", partition="aws") is None
    assert "not a Security Hub product ARN" in (product_arn_problem("arn:aws:sns:x", partition="aws") or "")


def test_the_rules_up_creates() -> None:
    created = rules(["guardduty", "config"])
    imported = {"source": ["aws.securityhub"], "detail-type": ["Security Hub Findings - Imported"]}
    guardduty, config = "arn:aws:securityhub:*::product/aws/guardduty", "arn:aws:securityhub:*::product/aws/config"
    assert created == {
        "guardduty": {**imported, "detail": {"findings": {"ProductArn": [{"wildcard": guardduty}]}}},
        "config": {**imported, "detail": {"findings": {"ProductArn": [{"wildcard": config}]}}},
        # One anything-but over both wildcards: two anything-but entries would be OR-ed.
        "other": {
            **imported,
            "detail": {"findings": {"ProductArn": [{"anything-but": {"wildcard": [guardduty, config]}}]}},
        },
    }
    # With one product, anything-but takes the single-string form EventBridge's table shows.
    assert rules(["securityhub"])["other"] == other_findings_pattern(["arn:aws:securityhub:*::product/aws/securityhub"])
    assert other_findings_pattern(["a*"])["detail"]["findings"]["ProductArn"] == [{"anything-but": {"wildcard": "a*"}}]
    assert rules(["guardduty"], catch_all=False).keys() == {"guardduty"}


# every finding, exactly once -----------------------------------------------------------------


@pytest.mark.parametrize("products", PRODUCT_SETS.values(), ids=PRODUCT_SETS.keys())
def test_every_finding_takes_exactly_one_route(products: list[str]) -> None:
    rule_set = rules(products)
    events = list(corpus())
    assert len(events) == 7 * (1 + len(REGIONS) * 12 + 10)
    wrong = {label: found for label, event in events if len(found := routed(rule_set, event)) != 1}
    assert wrong == {}


def test_the_findings_the_lab_config_dropped_now_reach_an_index() -> None:
    rule_set = rules(["guardduty", "config"])
    # Security Hub's own control findings (FSBP, CIS, PCI) from the real events: the catch-all.
    for event in [load_event(), *load_events()]:
        assert routed(rule_set, event) == ["other"]
    assert routed(rule_set, envelope(asff("config"))) == ["config"]
    assert routed(rule_set, envelope(guardduty_finding())) == ["guardduty"]
    # The guide's malformed ARN is not GuardDuty's: it is kept, in the catch-all.
    assert routed(rule_set, envelope(asff("guardduty"))) == ["other"]
    assert routed(rule_set, with_product(load_event(), CUSTOM_WEST)) == ["other"]
    assert routed(rule_set, with_product(load_event(), PARTNER_EAST)) == ["other"]


@pytest.mark.parametrize("region", REGIONS)
def test_cross_region_findings_keep_their_product_route(region: str) -> None:
    """With cross-region aggregation, a linked region's finding carries its own region in ProductArn."""
    rule_set = rules(PRODUCT_SETS["many"])
    base = envelope(guardduty_finding())
    for product, key in [
        (arn("guardduty", region), "guardduty"),
        (arn("config", region), "config"),
        (arn("securityhub", region), "securityhub"),
        (arn("inspector", region), "inspector"),
        (PARTNER.format(region=region), "crowdstrike-crowdstrike-falcon"),
        (CUSTOM.format(region=region), "111122223333-default"),
        (arn("macie", region), "other"),
    ]:
        assert routed(rule_set, with_product(base, product)) == [key], product


def test_with_the_catch_all_off_other_products_match_no_rule() -> None:
    rule_set = rules(["guardduty", "config"], catch_all=False)
    assert routed(rule_set, load_event()) == []
    assert routed(rule_set, envelope(asff("config"))) == ["config"]


def test_events_security_hub_never_sends() -> None:
    """Security Hub sends one finding per event, always with a ProductArn. An event with several
    findings reaches every rule one of them matches (each stream's transform then parks it whole);
    a finding without ProductArn matches no rule."""
    rule_set = rules(["guardduty", "config"])
    two = envelope(guardduty_finding())
    two["detail"]["findings"].append(load_event()["detail"]["findings"][0])
    assert routed(rule_set, two) == ["guardduty", "other"]
    nameless = load_event()
    del nameless["detail"]["findings"][0]["ProductArn"]
    assert routed(rule_set, nameless) == []


def test_other_event_types_and_sources_match_no_rule() -> None:
    rule_set = rules(PRODUCT_SETS["many"])
    custom_action = load_event()
    custom_action["detail-type"] = "Security Hub Findings - Custom Action"
    spoofed = load_event()
    spoofed["source"] = "my.app"
    no_findings = load_event()
    no_findings["detail"] = {}
    for event in (custom_action, spoofed, no_findings):
        assert routed(rule_set, event) == []


def test_any_finding_in_the_array_may_match() -> None:
    event = load_event()
    other = copy.deepcopy(event["detail"]["findings"][0])
    other["ProductArn"] = arn("guardduty", "us-west-2")
    event["detail"]["findings"].insert(0, other)
    assert matches(findings_pattern(["arn:aws:securityhub:*::product/aws/guardduty"]), event)
    assert matches(findings_pattern(["arn:aws:securityhub:*::product/aws/securityhub"]), event)
    assert not matches(findings_pattern(["arn:aws:securityhub:*::product/aws/config"]), event)


# EventBridge semantics of the matcher -----------------------------------------------------------

# (pattern, event, expected). Where a case comes from a documented example it says so:
# EB = EventBridge User Guide, "Content filtering" and "Comparison operators" pages;
# ER = aws/event-ruler README and ACMachineTest (the rule engine EventBridge runs).
SEMANTICS = [
    # exact values, AND across fields, OR within a list
    ({"a": ["x"]}, {"a": "x"}, True),
    ({"a": ["x", "y"]}, {"a": "y"}, True),
    ({"a": ["x"]}, {"a": "X"}, False),  # case-sensitive
    ({"a": ["x"]}, {"b": "x"}, False),  # a named field must be present
    ({"a": ["x"], "b": ["y"]}, {"a": "x", "b": "z"}, False),  # every field must match
    ({"a": ["x"]}, {"a": ["w", "x"]}, True),  # array: any element
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
    # wildcard
    ({"FileName": [{"wildcard": "dir/*.png"}]}, {"FileName": "dir/apple.png"}, True),  # EB
    ({"FileName": [{"wildcard": "dir/*.png"}]}, {"FileName": "dir/apple.jpg"}, False),  # EB
    ({"FileName": [{"wildcard": "dir/*.png"}]}, {"FileName": "other/dir/apple.png"}, False),  # whole value
    ({"source": [{"wildcard": "Simple*Service"}]}, {"source": "SimpleNotificationService"}, True),  # ER
    ({"source": [{"wildcard": "Simple*Service"}]}, {"source": "SimpleService"}, True),  # * may be empty
    ({"source": [{"wildcard": "Simple*Service"}]}, {"source": "simpleService"}, False),  # case-sensitive
    ({"a": [{"wildcard": "a:*:b"}]}, {"a": "a:x:y:b"}, True),  # * crosses separators
    ({"a": [{"wildcard": "a\\*b"}]}, {"a": "a*b"}, True),  # ER: \* is a literal star
    ({"a": [{"wildcard": "a\\*b"}]}, {"a": "axb"}, False),
    ({"a": [{"wildcard": "a\\\\*"}]}, {"a": "a\\xyz"}, True),  # ER: \\ is a literal backslash
    ({"a": [{"wildcard": "*"}]}, {"a": 5}, False),  # strings only
    ({"a": [{"wildcard": "x*"}]}, {"a": ["y", "xz"]}, True),  # array: any element
    ({"a": [{"wildcard": "x*"}, "y"]}, {"a": "y"}, True),  # OR with a plain value
    # anything-but with wildcard
    ({"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}, {"FilePath": "/usr/lib/libc.so"}, False),  # EB
    ({"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}, {"FilePath": "/usr/bin/ls"}, True),  # EB
    ({"a": [{"anything-but": {"wildcard": ["*foo*", "*bar*"]}}]}, {"a": "sfoos"}, False),  # ER
    ({"a": [{"anything-but": {"wildcard": ["*foo*", "*bar*"]}}]}, {"a": "sbar"}, False),  # ER
    ({"a": [{"anything-but": {"wildcard": ["*foo*", "*bar*"]}}]}, {"a": "fobaor"}, True),  # ER
    ({"a": [{"anything-but": {"wildcard": "x*"}}]}, {}, False),  # a missing field is not "anything"
    ({"a": [{"anything-but": {"wildcard": "x*"}}]}, {"a": []}, False),  # nor an empty array
    ({"a": [{"anything-but": {"wildcard": "x*"}}]}, {"a": ["xy", "z"]}, True),  # ER: any element
    ({"a": [{"anything-but": {"wildcard": "x*"}}]}, {"a": ["xy", "xz"]}, False),
    ({"a": [{"anything-but": {"wildcard": "x*"}}]}, {"a": 5}, True),  # a number is no wildcard's
    ({"a": [{"anything-but": {"wildcard": "x*"}}]}, {"a": {"b": "y"}}, False),  # an object is no value
    (
        {"u": {"s": [{"anything-but": {"wildcard": "b*"}}], "n": ["bob"]}},
        {"u": [{"n": "alice", "s": "active"}, {"n": "bob", "s": "banned"}]},
        False,  # ER: the fields of one nested pattern are read from one element
    ),
]


@pytest.mark.parametrize(("pattern", "event", "expected"), SEMANTICS)
def test_matcher_semantics(pattern: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    assert matches(pattern, event) is expected


@pytest.mark.parametrize(
    "pattern",
    [
        {},
        {"a": []},
        {"a": "x"},
        {"a": {}},
        {"a": [["x"]]},
        {"a": [{"prefix": "x"}]},
        {"a": [{"suffix": "x"}]},
        {"a": [{"exists": True}]},
        {"a": [{"numeric": [">", 0]}]},
        {"a": [{"anything-but": ["x"]}]},
        {"a": [{"anything-but": {"prefix": "x"}}]},
        {"a": [{"anything-but": {"wildcard": []}}]},
        {"a": [{"wildcard": "x", "prefix": "y"}]},
        {"a": [{"wildcard": ["x*"]}]},
        {"a": [{"wildcard": "a**b"}]},  # ER: consecutive wildcard characters are not allowed
        {"a": [{"wildcard": "a\\b"}]},  # ER: a backslash escapes only * or \
        {"b": ["y"], "a": {"c": [{"prefix": "x"}]}},  # refused even where the event has no "a"
    ],
)
def test_matcher_refuses_what_it_does_not_implement(pattern: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedPattern):
        matches(pattern, {"b": "x"})


def test_matcher_agrees_with_eventbridge_test_event_pattern(moto: None) -> None:
    """Cross-check with TestEventPattern (moto's, with the array gap filled): the operator cases and
    the rules of every product set on the samples and a variant of each from every product."""
    import boto3

    events = boto3.client("events", region_name="us-west-2")
    envelope_fields = {"id": "1", "account": "1", "source": "s", "time": "t", "region": "r", "resources": []}

    def aws(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
        sent = {**envelope_fields, "detail-type": "d", **event}
        return events.test_event_pattern(EventPattern=json.dumps(pattern), Event=json.dumps(sent))["Result"]

    # The operators the rules add. (moto compares plain values with Python's ==, so 1 == True there.)
    for pattern, event, expected in SEMANTICS:
        if "wildcard" in json.dumps(pattern):
            assert aws(pattern, event) is expected, (pattern, event)

    candidates = [*sample_events(), *(with_product(load_event(), arn(p, "eu-west-1")) for p in ("macie", "config"))]
    candidates += [with_product(load_event(), a) for a in (PARTNER_EAST, CUSTOM_WEST, "xxx")]
    for products in PRODUCT_SETS.values():
        for key, pattern in rules(products).items():
            for event in candidates:
                label = (key, event["detail"]["findings"][0]["ProductArn"])
                assert aws(pattern, event) is matches(pattern, event), label
