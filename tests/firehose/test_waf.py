"""`up waf`: transform Lambda, `aws-waf-logs-` stream, logging configuration on the lab's web ACL."""

from __future__ import annotations

from typing import Any

import pytest

from logpipe.errors import ConfigError, PreflightError
from tests.conftest import ACCOUNT, REGION
from tests.firehose.support import (
    DOMAIN_ARN,
    ROLES,
    STREAMS,
    WAF_FUNCTION,
    WEB_ACL,
    client,
    function_exists,
    make_foreign_stream,
    opensearch_destination,
    plan,
    statement_for,
    stream,
    stream_arn,
    teardown,
    up,
    waf_logging,
    web_acl_arn,
)
from tests.support import FakeClock, role_policy

STREAM = STREAMS["waf"]
ROLE = ROLES["waf"]
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{WAF_FUNCTION}"
LOGGING_KEY = f"waf-logging:{WEB_ACL}"


def test_up_waf_logs_the_web_acl_through_the_transform(lab: dict[str, Any], make_run: Any) -> None:
    up(make_run(), ("waf",))

    destination = opensearch_destination(STREAM)
    assert destination["DomainARN"] == DOMAIN_ARN
    assert destination["IndexName"] == "waf-log"
    assert destination["ProcessingConfiguration"] == {
        "Enabled": True,
        "Processors": [
            {
                "Type": "Lambda",
                "Parameters": [
                    {"ParameterName": "LambdaArn", "ParameterValue": FUNCTION_ARN},
                    {"ParameterName": "BufferSizeInMBs", "ParameterValue": "1"},
                ],
            }
        ],
    }
    function = client("lambda").get_function(FunctionName=WAF_FUNCTION)["Configuration"]
    assert function["Handler"] == "waf_transform.handler"
    assert waf_logging(web_acl_arn())["LogDestinationConfigs"] == [stream_arn(STREAM)]
    # Firehose may invoke exactly this function, nothing else.
    assert statement_for(role_policy(ROLE), "lambda:InvokeFunction") == [FUNCTION_ARN]


def test_second_up_makes_no_write_call(lab: dict[str, Any], make_run: Any) -> None:
    up(make_run(), ("waf",))
    again = make_run()
    up(again, ("waf",))
    assert again.counter.summary()["write"] == 0, again.counter.writes


def test_web_acl_given_by_arn(lab: dict[str, Any], make_run: Any) -> None:
    arn = web_acl_arn()
    up(make_run({"pipelines": {"waf": {"web_acl": arn}}}), ("waf",))
    assert waf_logging(arn)["LogDestinationConfigs"] == [stream_arn(STREAM)]


def test_missing_web_acl_stops_up(lab: dict[str, Any], make_run: Any) -> None:
    run = make_run({"pipelines": {"waf": {"web_acl": "no-such-acl"}}})
    items = plan(run, ("waf",))
    with pytest.raises(PreflightError, match="waf-web-acl no-such-acl: does not exist"):
        run.engine.apply(list(items.values()))
    assert stream(STREAM) is None


def test_stream_name_without_the_waf_prefix_is_refused(lab: dict[str, Any], make_run: Any) -> None:
    with pytest.raises(ConfigError, match="aws-waf-logs-"):
        make_run({"pipelines": {"waf": {"stream_name": "demogo-waf"}}})


def test_preflight_rejects_a_web_acl_in_another_region_and_cloudfront_outside_us_east_1(
    lab: dict[str, Any], make_run: Any
) -> None:
    other = f"arn:aws:wafv2:us-west-2:{ACCOUNT}:regional/webacl/acl/0123"
    run = make_run({"pipelines": {"waf": {"web_acl": other}}})
    with pytest.raises(PreflightError, match="us-west-2"):
        run.preflight(run.pipelines(("waf",)))
    run = make_run({"pipelines": {"waf": {"scope": "CLOUDFRONT"}}})
    with pytest.raises(PreflightError, match="us-east-1"):
        run.preflight(run.pipelines(("waf",)))


def test_logging_to_another_destination_is_a_conflict_unless_adopted(lab: dict[str, Any], make_run: Any) -> None:
    acl = web_acl_arn()
    theirs = make_foreign_stream("aws-waf-logs-theirs")
    client("wafv2").put_logging_configuration(
        LoggingConfiguration={"ResourceArn": acl, "LogDestinationConfigs": [theirs]}
    )

    run = make_run()
    items = plan(run, ("waf",))
    assert items[LOGGING_KEY].action == "conflict"
    with pytest.raises(PreflightError, match=f"waf-logging {WEB_ACL}"):
        run.engine.apply(list(items.values()))
    assert run.counter.summary()["write"] == 0
    assert waf_logging(acl)["LogDestinationConfigs"] == [theirs]
    assert not function_exists(WAF_FUNCTION)

    items = up(make_run(), ("waf",), adopt=True)
    assert items[LOGGING_KEY].result == "adopted"
    assert waf_logging(acl)["LogDestinationConfigs"] == [stream_arn(STREAM)]
    # Adopted: from now on it is logpipe's, and a second up changes nothing.
    again = make_run()
    up(again, ("waf",))
    assert again.counter.summary()["write"] == 0, again.counter.writes


def test_teardown_leaves_a_logging_configuration_that_now_points_elsewhere(lab: dict[str, Any], make_run: Any) -> None:
    up(make_run(), ("waf",))
    acl = web_acl_arn()
    theirs = make_foreign_stream("aws-waf-logs-theirs")
    client("wafv2").put_logging_configuration(
        LoggingConfiguration={"ResourceArn": acl, "LogDestinationConfigs": [theirs]}
    )

    items = teardown(make_run(), ("waf",))
    assert items[LOGGING_KEY].action == "keep"
    assert waf_logging(acl)["LogDestinationConfigs"] == [theirs]
    assert stream(STREAM) is None
    assert stream("aws-waf-logs-theirs") is not None
    assert not function_exists(WAF_FUNCTION)


def test_teardown_removes_logpipes_logging_configuration_even_if_the_stream_is_already_gone(
    lab: dict[str, Any], make_run: Any
) -> None:
    up(make_run(), ("waf",))
    acl = web_acl_arn()
    client("firehose").delete_delivery_stream(DeliveryStreamName=STREAM)

    items = teardown(make_run(), ("waf",))
    assert items[LOGGING_KEY].result == "deleted"
    assert waf_logging(acl) is None
    assert items[f"firehose-stream:{STREAM}"].action == "absent"
    # The web ACL itself is never touched.
    assert web_acl_arn() == acl


def test_put_logging_retries_while_wafs_service_linked_role_is_locked() -> None:
    # AWS: a previous PutLoggingConfiguration locks WAF's service-linked role for about 20 s and
    # answers WAFServiceLinkedRoleErrorException ("Please try your request again").
    from types import SimpleNamespace

    from botocore.exceptions import ClientError

    from logpipe.resources import waf_logging

    clock = FakeClock()
    calls: list[dict[str, Any]] = []

    def put_logging_configuration(**kwargs: Any) -> dict[str, Any]:
        calls.append(kwargs)
        if len(calls) < 3:
            error = {"Error": {"Code": "WAFServiceLinkedRoleErrorException", "Message": "role locked"}}
            raise ClientError(error, "PutLoggingConfiguration")
        return {"LoggingConfiguration": kwargs["LoggingConfiguration"]}

    wafv2 = SimpleNamespace(put_logging_configuration=put_logging_configuration)
    said: list[str] = []
    ctx = SimpleNamespace(aws=SimpleNamespace(client=lambda name: wafv2), clock=clock, progress=said.append)
    logging = object.__new__(waf_logging.WafLogging)
    logging.web_acl = waf_logging.WebAclRef(WEB_ACL)
    logging._put(ctx, {"ResourceArn": "arn", "LogDestinationConfigs": [stream_arn(STREAM)]})  # type: ignore[arg-type]
    assert len(calls) == 3 and len(clock.slept) == 2
    assert all("AWS WAF's logging role to be free" in line for line in said)
