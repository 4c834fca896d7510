"""CloudWatch Logs -> Lambda gaps.

- PutSubscriptionFilter to a Lambda function: moto only checks that the function exists.
  AWS test-invokes the function as ``logs.amazonaws.com`` and fails with
  ``InvalidParameterException`` ("Could not execute the lambda function ...") unless the
  function's resource policy lets CloudWatch Logs invoke it for this log group.
- Delivering log events to a subscribed function: moto runs the function in Docker
  (``LambdaFunction.invoke``), which fails or hangs without Docker. The invocation event
  (``{"awslogs": {"data": base64(gzip(json))}}``) is published to :mod:`.deliveries`
  instead; nothing is executed.
"""

from __future__ import annotations

import base64
import fnmatch
import json
from typing import Any

from moto.awslambda.models import LambdaBackend
from moto.logs.exceptions import InvalidParameterException
from moto.logs.models import LogsBackend
from moto.utilities.utils import get_partition

from . import deliveries
from ._patching import patch

_NO_PERMISSION = (
    "Could not execute the lambda function. Make sure you have given CloudWatch Logs "
    "permission to execute your function."
)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _principal_allows_logs(principal: Any, region: str) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        services = _as_list(principal.get("Service"))
        if "*" in _as_list(principal.get("AWS")):
            return True
        return any(s in ("logs.amazonaws.com", f"logs.{region}.amazonaws.com") for s in services)
    return False


def _conditions_hold(conditions: dict[str, Any], source_arn: str, account_id: str) -> bool:
    context = {"aws:sourcearn": source_arn, "aws:sourceaccount": account_id}
    for operator, checks in (conditions or {}).items():
        op = operator.lower()
        for key, expected in (checks or {}).items():
            actual = context.get(key.lower())
            if actual is None:
                continue  # a key CloudWatch Logs does not send: not ours to judge
            values = [str(v) for v in _as_list(expected)]
            if op in ("arnlike", "stringlike"):
                ok = any(fnmatch.fnmatchcase(actual, v) for v in values)
            elif op in ("arnequals", "stringequals"):
                ok = actual in values
            elif op in ("arnnotlike", "stringnotlike"):
                ok = not any(fnmatch.fnmatchcase(actual, v) for v in values)
            elif op in ("arnnotequals", "stringnotequals"):
                ok = actual not in values
            else:
                continue
            if not ok:
                return False
    return True


def logs_may_invoke(function: Any, log_group_arn: str, account_id: str, region: str) -> bool:
    """True when the function's resource policy lets CloudWatch Logs invoke it for the group."""
    try:
        statements = function.policy.get_policy()["Policy"]["Statement"]
    except Exception:  # no policy at all
        return False
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        actions = _as_list(statement.get("Action"))
        if not any(a in ("lambda:InvokeFunction", "lambda:*", "*") for a in actions):
            continue
        if not _principal_allows_logs(statement.get("Principal"), region):
            continue
        if _conditions_hold(statement.get("Condition") or {}, log_group_arn, account_id):
            return True
    return False


def install() -> None:
    orig_put_filter = LogsBackend.put_subscription_filter

    def put_subscription_filter(
        self: LogsBackend,
        log_group_name: str,
        filter_name: str,
        filter_pattern: str,
        destination_arn: str,
        role_arn: str,
    ) -> None:
        if self.groups.get(log_group_name) and destination_arn.split(":")[2:3] == ["lambda"]:
            from moto.awslambda.utils import get_backend

            try:
                function = get_backend(self.account_id, self.region_name).get_function(destination_arn)
            except Exception as exc:
                raise InvalidParameterException(_NO_PERMISSION) from exc
            partition = get_partition(self.region_name)
            group_arn = f"arn:{partition}:logs:{self.region_name}:{self.account_id}:log-group:{log_group_name}:*"
            if not logs_may_invoke(function, group_arn, self.account_id, self.region_name):
                raise InvalidParameterException(_NO_PERMISSION)
        return orig_put_filter(self, log_group_name, filter_name, filter_pattern, destination_arn, role_arn)

    def send_log_event(
        self: LambdaBackend,
        function_arn: str,
        filter_name: str,
        log_group_name: str,
        log_stream_name: str,
        log_events: Any,
    ) -> None:
        payload = deliveries.cloudwatch_logs_payload(
            self.account_id, log_group_name, log_stream_name, filter_name, log_events
        )
        event = {"awslogs": {"data": base64.b64encode(payload).decode("ascii")}}
        deliveries.publish(
            deliveries.Delivery(
                target_arn=function_arn,
                origin=f"logs:{log_group_name}/{filter_name}",
                payloads=(json.dumps(event).encode("utf-8"),),
            )
        )

    patch(LogsBackend, "put_subscription_filter", put_subscription_filter)
    patch(LambdaBackend, "send_log_event", send_log_event)
