"""`up securityhub` in moto on an empty account: every resource with its real properties,
findings routed per product and the rest to the catch-all (each to exactly one stream), a second
`up` that writes nothing, drift shown and repaired, and teardown of exactly what logpipe made."""

from __future__ import annotations

import json
from typing import Any

import pytest

from logpipe.errors import PreflightError
from logpipe.pipelines import load
from logpipe.pipelines.securityhub import CATCH_ALL_OFF_WARNING
from logpipe.resources.eventbridge_rule import EventTarget
from logpipe.sandbox.moto_gaps import clear_deliveries, recent_deliveries
from logpipe.securityhub_patterns import matches
from tests.conftest import ACCOUNT, REGION, SAMPLES
from tests.securityhub.findings import corpus, load_event, with_product
from tests.securityhub.support import (
    CHANNEL,
    CONFIG_BUCKET,
    OWNER_TAGS,
    PRODUCTS,
    RECORDER,
    ROUTES,
    SLR,
    SLR_ARN,
    TRANSFORM,
    client,
    detector,
    hub_tags,
    plan,
    product_arn,
    product_wildcard,
    recording,
    security_hub_enabled,
    stream,
    stream_arn,
    teardown,
    up,
)
from tests.support import role_policy, role_trust

CONFIG_RULES = 14


@pytest.fixture
def created(lab: dict, make_run: Any) -> dict[str, Any]:
    run = make_run()
    items = up(run)
    failed = {k: i.error for k, i in items.items() if i.result in ("failed", "skipped")}
    assert not failed
    return {"run": run, "items": items}


def test_up_creates_the_services_a_route_per_product_and_the_catch_all(created: dict[str, Any]) -> None:
    results = {key: item.result for key, item in created["items"].items()}
    created_kinds = sorted(key.split(":", 1)[0] for key, result in results.items() if result == "created")
    assert created_kinds.count("config-rule") == CONFIG_RULES
    for key in (
        f"config-recorder:{RECORDER}",
        f"s3-bucket:{CONFIG_BUCKET}",
        f"config-delivery-channel:{CHANNEL}",
        "securityhub-hub:default",
        "guardduty-detector:default",
        f"lambda-function:{TRANSFORM}",
    ):
        assert results[key] == "created", key
    for product in ROUTES:
        for key in (
            f"firehose-stream:{stream(product)}",
            f"iam-role:{stream(product)}-firehose",
            f"iam-role:{stream(product)}-events",
            f"eventbridge-rule:{stream(product)}",
            f"eventbridge-target:{stream(product)}/firehose",
        ):
            assert results[key] == "created", key
    assert results["opensearch-domain:demogo-opensearch"] == ""  # only read


def test_config_records_everything_into_its_own_bucket(created: dict[str, Any]) -> None:
    config = client("config")
    [recorder] = config.describe_configuration_recorders()["ConfigurationRecorders"]
    assert recorder["name"] == RECORDER
    assert recorder["recordingGroup"]["allSupported"] is True
    assert recorder["recordingGroup"]["includeGlobalResourceTypes"] is True
    assert recorder["roleARN"] == SLR_ARN
    role = client("iam").get_role(RoleName=SLR)["Role"]
    assert role["Arn"] == SLR_ARN
    assert recording(RECORDER)
    [channel] = config.describe_delivery_channels()["DeliveryChannels"]
    assert channel == {"name": CHANNEL, "s3BucketName": CONFIG_BUCKET}

    s3 = client("s3")
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=CONFIG_BUCKET)["TagSet"]}
    assert OWNER_TAGS.items() <= tags.items()
    policy = json.loads(s3.get_bucket_policy(Bucket=CONFIG_BUCKET)["Policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert set(statements) == {
        "AWSConfigBucketPermissionsCheck",
        "AWSConfigBucketExistenceCheck",
        "AWSConfigBucketDelivery",
    }
    bucket_arn = f"arn:aws:s3:::{CONFIG_BUCKET}"
    for statement in statements.values():
        assert statement["Principal"] == {"Service": "config.amazonaws.com"}
        assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT
    assert statements["AWSConfigBucketPermissionsCheck"]["Action"] == "s3:GetBucketAcl"
    assert statements["AWSConfigBucketPermissionsCheck"]["Resource"] == bucket_arn
    assert statements["AWSConfigBucketExistenceCheck"]["Action"] == "s3:ListBucket"
    delivery = statements["AWSConfigBucketDelivery"]
    assert delivery["Action"] == "s3:PutObject"
    assert delivery["Resource"] == f"{bucket_arn}/AWSLogs/{ACCOUNT}/Config/*"
    assert delivery["Condition"]["StringEquals"]["s3:x-amz-acl"] == "bucket-owner-full-control"


def test_managed_config_rules_are_created_and_tagged(created: dict[str, Any]) -> None:
    config = client("config")
    rules = {r["ConfigRuleName"]: r for r in config.describe_config_rules()["ConfigRules"]}
    assert len(rules) == CONFIG_RULES
    trail = rules["demogo-cloud-trail-enabled"]
    assert trail["Source"] == {"Owner": "AWS", "SourceIdentifier": "CLOUD_TRAIL_ENABLED"}
    for rule in rules.values():
        assert rule["Source"]["Owner"] == "AWS"
        tags = {t["Key"]: t["Value"] for t in config.list_tags_for_resource(ResourceArn=rule["ConfigRuleArn"])["Tags"]}
        assert OWNER_TAGS.items() <= tags.items()


def test_security_hub_is_enabled_tagged_with_default_standards(created: dict[str, Any]) -> None:
    assert OWNER_TAGS.items() <= hub_tags().items()
    enabled = {s["StandardsArn"] for s in client("securityhub").get_enabled_standards()["StandardsSubscriptions"]}
    assert f"arn:aws:securityhub:{REGION}::standards/aws-foundational-security-best-practices/v/1.0.0" in enabled


def test_guardduty_detector_publishes_every_fifteen_minutes(created: dict[str, Any]) -> None:
    found = detector()
    assert found is not None
    assert found["Status"] == "ENABLED"
    assert found["FindingPublishingFrequency"] == "FIFTEEN_MINUTES"
    assert OWNER_TAGS.items() <= found["Tags"].items()


def test_each_route_has_its_own_rule_stream_index_and_roles(created: dict[str, Any]) -> None:
    events = client("events")
    firehose = client("firehose")
    transform_arn = client("lambda").get_function(FunctionName=TRANSFORM)["Configuration"]["FunctionArn"]
    wildcards = [product_wildcard(p) for p in PRODUCTS]
    product_arns = {p: [{"wildcard": w}] for p, w in zip(PRODUCTS, wildcards, strict=True)}
    product_arns["other"] = [{"anything-but": {"wildcard": wildcards}}]
    for product in ROUTES:
        name = stream(product)
        rule = events.describe_rule(Name=name)
        assert rule["State"] == "ENABLED"
        assert json.loads(rule["EventPattern"]) == {
            "source": ["aws.securityhub"],
            "detail-type": ["Security Hub Findings - Imported"],
            "detail": {"findings": {"ProductArn": product_arns[product]}},
        }
        tags = {t["Key"]: t["Value"] for t in events.list_tags_for_resource(ResourceARN=rule["Arn"])["Tags"]}
        assert OWNER_TAGS.items() <= tags.items()

        [target] = events.list_targets_by_rule(Rule=name)["Targets"]
        events_role = client("iam").get_role(RoleName=f"{name}-events")["Role"]
        assert target["Arn"] == stream_arn(product)
        assert target["RoleArn"] == events_role["Arn"]
        trust = role_trust(f"{name}-events")["Statement"]
        assert [s["Principal"] for s in trust] == [{"Service": "events.amazonaws.com"}]
        assert trust[0]["Condition"]["StringEquals"] == {
            "aws:SourceAccount": ACCOUNT,
            "aws:SourceArn": rule["Arn"],
        }
        assert role_policy(f"{name}-events")["Statement"] == [
            {
                "Effect": "Allow",
                "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"],
                "Resource": [stream_arn(product)],
            }
        ]

        description = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        [destination] = description["Destinations"]
        opensearch = destination["AmazonopensearchserviceDestinationDescription"]
        assert opensearch["IndexName"] == f"aws-securityhub-findings-logs-{product}"
        assert opensearch["RoleARN"].endswith(f":role/{name}-firehose")
        processors = opensearch["ProcessingConfiguration"]["Processors"]
        arns = [
            p["ParameterValue"] for proc in processors for p in proc["Parameters"] if p["ParameterName"] == "LambdaArn"
        ]
        assert arns == [transform_arn]


def test_writer_roles_are_the_route_streams_firehose_roles(created: dict[str, Any]) -> None:
    names = load("securityhub").writer_role_names(created["run"].ctx)
    assert names == [f"{stream(p)}-firehose" for p in ROUTES]
    for name in names:
        client("iam").get_role(RoleName=name)


def delivered(product: str) -> list[dict[str, Any]]:
    return [json.loads(p) for d in recent_deliveries(stream_arn(product)) for p in d.payloads]


def test_findings_reach_only_their_products_stream(created: dict[str, Any]) -> None:
    clear_deliveries()
    guardduty = client("guardduty")
    detector_id = guardduty.list_detectors()["DetectorIds"][0]
    guardduty.create_sample_findings(DetectorId=detector_id, FindingTypes=["Recon:EC2/PortProbeUnprotectedPort"])
    finding = json.loads((SAMPLES / "asff_config.json").read_text().replace("eu-central-1", REGION))
    finding["AwsAccountId"] = ACCOUNT
    finding["ProductArn"] = product_arn("config")
    control = load_event()["detail"]["findings"][0]  # Security Hub's own FSBP IAM.4 control finding
    control["AwsAccountId"] = ACCOUNT
    client("securityhub").batch_import_findings(Findings=[finding, control])

    guardduty_events, config_events, other_events = delivered("guardduty"), delivered("config"), delivered("other")
    assert [e["detail"]["findings"][0]["ProductArn"] for e in guardduty_events] == [product_arn("guardduty")]
    assert [e["detail"]["findings"][0]["Id"] for e in config_events] == [finding["Id"]]
    assert [e["detail"]["findings"][0]["Id"] for e in other_events] == [control["Id"]]
    # What moto routed is what logpipe's own matcher says EventBridge routes.
    rule = json.loads(client("events").describe_rule(Name=stream("config"))["EventPattern"])
    assert matches(rule, config_events[0]) and not matches(rule, guardduty_events[0])


def test_every_event_lands_in_exactly_one_stream(created: dict[str, Any]) -> None:
    """Real and synthetic Security Hub events put on the default bus: EventBridge (moto, with
    logpipe's gap fillers) delivers each to one stream, the one logpipe's matcher names."""
    events = client("events")
    cases = [(label, event) for i, (label, event) in enumerate(corpus()) if i % 7 == 0]
    assert len(cases) > 60
    rules = {p: json.loads(events.describe_rule(Name=stream(p))["EventPattern"]) for p in ROUTES}
    for label, event in cases:
        clear_deliveries()
        result = events.put_events(
            Entries=[
                {
                    "Source": event["source"],
                    "DetailType": event["detail-type"],
                    "Detail": json.dumps(event["detail"]),
                    "Resources": event["resources"],
                }
            ]
        )
        assert result["FailedEntryCount"] == 0
        landed = [p for p in ROUTES if delivered(p)]
        assert landed == [p for p, rule in rules.items() if matches(rule, event)], label
        assert len(landed) == 1 and len(delivered(landed[0])) == 1, label


def test_second_up_makes_no_write_call(created: dict[str, Any], make_run: Any) -> None:
    run = make_run()
    items = up(run)
    assert {i.action for i in items.values()} == {"noop"}
    assert run.counter.summary()["write"] == 0, run.counter.writes


def test_plan_shows_manual_changes_and_up_repairs_them(created: dict[str, Any], make_run: Any) -> None:
    events, config, guardduty = client("events"), client("config"), client("guardduty")
    name = stream("guardduty")
    events.put_rule(Name=name, EventPattern=json.dumps({"source": ["aws.securityhub"]}), State="DISABLED")
    events.put_targets(
        Rule=name,
        Targets=[{"Id": "firehose", "Arn": stream_arn("config"), "RoleArn": "arn:aws:iam::123456789012:role/x"}],
    )
    config.stop_configuration_recorder(ConfigurationRecorderName=RECORDER)
    detector_id = guardduty.list_detectors()["DetectorIds"][0]
    guardduty.update_detector(DetectorId=detector_id, FindingPublishingFrequency="SIX_HOURS")

    run = make_run()
    planned = plan(run)
    assert run.counter.summary()["write"] == 0
    changed = {k: sorted(i.changes) for k, i in planned.items() if i.action != "noop"}
    assert changed == {
        # PutRule without a description clears it, as in AWS.
        f"eventbridge-rule:{name}": ["description", "event_pattern", "state"],
        f"eventbridge-target:{name}/firehose": ["arn", "role_arn"],
        f"config-delivery-channel:{CHANNEL}": ["recording"],
        "guardduty-detector:default": ["finding_publishing_frequency"],
    }

    run = make_run()
    up(run)
    rule = events.describe_rule(Name=name)
    assert rule["State"] == "ENABLED"
    assert json.loads(rule["EventPattern"])["detail"]["findings"]["ProductArn"] == [
        {"wildcard": product_wildcard("guardduty")}
    ]
    assert events.list_targets_by_rule(Rule=name)["Targets"][0]["Arn"] == stream_arn("guardduty")
    assert recording(RECORDER)
    assert guardduty.get_detector(DetectorId=detector_id)["FindingPublishingFrequency"] == "FIFTEEN_MINUTES"
    again = make_run()
    up(again)
    assert again.counter.summary()["write"] == 0, again.counter.writes


def test_extra_standards_from_the_config_are_enabled(lab: dict, make_run: Any) -> None:
    run = make_run(
        {"pipelines": {"securityhub": {"standards": ["pci-dss/v/3.2.1"], "enable_default_standards": False}}}
    )
    up(run)
    enabled = {s["StandardsArn"] for s in client("securityhub").get_enabled_standards()["StandardsSubscriptions"]}
    assert enabled == {f"arn:aws:securityhub:{REGION}::standards/pci-dss/v/3.2.1"}


def test_teardown_removes_what_logpipe_made_and_keeps_the_service_linked_role(
    created: dict[str, Any], make_run: Any
) -> None:
    items = teardown(make_run())
    assert not [k for k, i in items.items() if i.result in ("failed", "skipped")]
    assert client("config").describe_configuration_recorders()["ConfigurationRecorders"] == []
    assert client("config").describe_delivery_channels()["DeliveryChannels"] == []
    assert client("config").describe_config_rules()["ConfigRules"] == []
    assert not security_hub_enabled()
    assert detector() is None
    assert client("events").list_rules(NamePrefix="demogo-")["Rules"] == []
    assert client("firehose").list_delivery_streams()["DeliveryStreamNames"] == []
    assert CONFIG_BUCKET not in [b["Name"] for b in client("s3").list_buckets()["Buckets"]]
    roles = [r["RoleName"] for r in client("iam").list_roles()["Roles"]]
    assert [r for r in roles if r.startswith("demogo-")] == []
    assert SLR in roles  # Config and other tools rely on it: never deleted
    # The lab's domain was only read.
    assert items["opensearch-domain:demogo-opensearch"].action == "keep"

    # A second teardown finds nothing left to delete.
    again = teardown(make_run())
    assert {i.action for i in again.values()} <= {"absent", "keep"}


def test_a_failed_run_is_finished_by_the_next_up_or_cleaned_by_teardown(
    lab: dict, make_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: EventTarget, ctx: Any, desired: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("injected: PutTargets failed")

    with monkeypatch.context() as patched:
        patched.setattr(EventTarget, "create", refuse)
        items = up(make_run())
    assert {k for k, i in items.items() if i.result == "failed"} == {
        f"eventbridge-target:{stream(p)}/firehose" for p in ROUTES
    }
    assert client("events").list_targets_by_rule(Rule=stream("guardduty"))["Targets"] == []

    # Teardown from this partial state removes the rules without targets and everything else.
    items = teardown(make_run())
    assert not [k for k, i in items.items() if i.result in ("failed", "skipped")]
    assert client("events").list_rules(NamePrefix="demogo-")["Rules"] == []
    assert detector() is None

    # The same failure again; this time the next `up` finishes the job.
    with monkeypatch.context() as patched:
        patched.setattr(EventTarget, "create", refuse)
        up(make_run())
    finished = up(make_run())
    assert {k for k, i in finished.items() if i.result == "created"} == {
        f"eventbridge-target:{stream(p)}/firehose" for p in ROUTES
    }
    assert client("events").list_targets_by_rule(Rule=stream("config"))["Targets"][0]["Arn"] == stream_arn("config")


def test_an_unowned_rule_under_logpipes_name_is_neither_changed_nor_deleted(lab: dict, make_run: Any) -> None:
    events = client("events")
    theirs = {"source": ["my.app"]}
    events.put_rule(Name=stream("guardduty"), EventPattern=json.dumps(theirs), State="ENABLED")

    run = make_run()
    with pytest.raises(PreflightError) as refused:
        up(run)
    assert f"eventbridge-rule {stream('guardduty')}" in str(refused.value)
    assert run.counter.summary()["write"] == 0

    items = teardown(make_run())
    assert items[f"eventbridge-rule:{stream('guardduty')}"].action == "keep"
    assert json.loads(events.describe_rule(Name=stream("guardduty"))["EventPattern"]) == theirs


def test_preflight_reports_every_config_problem_at_once(lab: dict, make_run: Any) -> None:
    run = make_run(
        {
            "pipelines": {
                "securityhub": {
                    "products": ["guardduty", "arn:aws-cn:securityhub:cn-north-1::product/aws/inspector"],
                    "config_rules": ["cloud-trail-enabled"],
                    "standards": ["not a standard"],
                }
            }
        }
    )
    pipes = run.pipelines(TARGET_NAMES)
    with pytest.raises(PreflightError) as refused:
        run.preflight(pipes)
    problems = refused.value.problems
    assert len(problems) == 3, problems
    assert any("aws-cn" in p and "never match" in p for p in problems)
    assert any("cloud-trail-enabled" in p for p in problems)
    assert any("not a standard" in p for p in problems)
    assert run.counter.summary()["write"] == 0


def test_a_product_arn_of_another_region_routes_that_product_everywhere(lab: dict, make_run: Any) -> None:
    inspector = "arn:aws:securityhub:us-east-1::product/aws/inspector"
    run = make_run({"pipelines": {"securityhub": {"products": ["guardduty", inspector]}}})
    up(run)
    rule = json.loads(client("events").describe_rule(Name=stream("inspector"))["EventPattern"])
    assert rule["detail"]["findings"]["ProductArn"] == [{"wildcard": product_wildcard("inspector")}]
    assert matches(rule, with_product(load_event(), product_arn("inspector", REGION)))


def test_a_product_cannot_take_the_catch_alls_name(lab: dict, make_run: Any) -> None:
    run = make_run({"pipelines": {"securityhub": {"products": ["guardduty", "other"]}}})
    with pytest.raises(PreflightError) as refused:
        run.preflight(run.pipelines(TARGET_NAMES))
    (problem,) = refused.value.problems
    assert "'other' belongs to the catch-all" in problem and "catch_all" in problem
    # With the catch-all off the name is free.
    free = make_run({"pipelines": {"securityhub": {"products": ["guardduty", "other"], "catch_all": False}}})
    free.preflight(free.pipelines(TARGET_NAMES))


def test_catch_all_off_makes_no_catch_all_and_says_what_is_lost(lab: dict, make_run: Any) -> None:
    run = make_run({"pipelines": {"securityhub": {"catch_all": False}}})
    said: list[str] = []
    run.ctx.progress = said.append
    items = up(run)
    assert [m for m in said if "catch_all is false" in m] == [CATCH_ALL_OFF_WARNING]
    assert "Security Hub's own control checks" in CATCH_ALL_OFF_WARNING
    assert not [k for k in items if k.endswith(stream("other")) or f"{stream('other')}-" in k]
    assert sorted(r["Name"] for r in client("events").list_rules(NamePrefix="demogo-")["Rules"]) == sorted(
        stream(p) for p in PRODUCTS
    )
    assert load("securityhub").writer_role_names(run.ctx) == [f"{stream(p)}-firehose" for p in PRODUCTS]

    # Switching it back on adds the catch-all's route, and only that, and no warning.
    again = make_run()
    said.clear()
    again.ctx.progress = said.append
    added = {k for k, i in up(again).items() if i.result == "created"}
    assert said == []
    assert f"eventbridge-rule:{stream('other')}" in added
    assert [k for k in added if stream("other") not in k] == []


TARGET_NAMES = ("securityhub",)
