"""AWS's eventual consistency and slow changes, which moto applies at once.

IAM propagation. AWS documents IAM as eventually consistent: a role just created, or a
policy just put on it, is not yet usable everywhere, and a Lambda permission just added is
not yet seen by CloudWatch Logs. Here a role whose trust policy changed (or that was
created) less than N seconds ago cannot be assumed yet, a policy put or attached less than
N seconds ago is not in force yet, a Lambda permission added less than N seconds ago is not
seen yet, and each call that uses them answers what AWS answers in that case:

- Lambda ``CreateFunction`` / ``UpdateFunctionConfiguration``: ``InvalidParameterValueException``
  "The role defined for the function cannot be assumed by Lambda."
- Firehose ``CreateDeliveryStream`` / ``UpdateDestination``: ``InvalidArgumentException``
  "Firehose is unable to assume role <arn>. Please check the role provided."
- CloudTrail ``CreateTrail`` / ``UpdateTrail``: ``InvalidCloudWatchLogsRoleArnException``
  "Access denied. Check the trust relationships for your role." (new role), and
  ``InvalidCloudWatchLogsLogGroupArnException`` "Access denied. Check the permissions for
  your role." (new policy on it).
- Config ``PutConfigurationRecorder``: ``InvalidRoleException``; ``PutDeliveryChannel``:
  ``InsufficientDeliveryPolicyException`` "Insufficient delivery policy to s3 bucket: <bucket>,
  unable to assume role: <recorder role arn>."
- CloudWatch Logs ``PutSubscriptionFilter`` to a function: ``InvalidParameterException``
  "Could not execute the lambda function. Make sure you have given CloudWatch Logs
  permission to execute your function."

N is ``LOGPIPE_SANDBOX_IAM_PROPAGATION_SECONDS`` (default 0: off; the sandbox emulator
starts with 2).

Slow changes. An OpenSearch domain applies ``UpdateDomainConfig`` over minutes, and until
then ``DescribeDomainConfig`` reports the access policy's ``Status.State`` as ``Processing``;
a Config recorder just started reports ``lastStatus`` ``PENDING`` until its first recording
(then ``SUCCESS``). Both last ``LOGPIPE_SANDBOX_SLOW_CHANGE_SECONDS`` (default 0: at once;
the sandbox emulator starts with 2).

:func:`configure` overrides both and the clock (tests use a clock that never sleeps).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from moto.awslambda.exceptions import InvalidParameterValueException
from moto.awslambda.models import LambdaBackend
from moto.awslambda.responses import LambdaResponse
from moto.cloudtrail.responses import CloudTrailResponse
from moto.config.models import ConfigBackend
from moto.config.responses import ConfigResponse
from moto.core.exceptions import JsonRESTError
from moto.firehose.exceptions import InvalidArgumentException
from moto.firehose.responses import FirehoseResponse
from moto.iam.models import IAMBackend
from moto.logs.exceptions import InvalidParameterException
from moto.logs.responses import LogsResponse
from moto.opensearch.models import OpenSearchServiceBackend
from moto.opensearch.responses import OpenSearchServiceResponse

from ._patching import before_action, patch

IAM_PROPAGATION_ENV = "LOGPIPE_SANDBOX_IAM_PROPAGATION_SECONDS"
SLOW_CHANGE_ENV = "LOGPIPE_SANDBOX_SLOW_CHANGE_SECONDS"
SANDBOX_DEFAULTS = {IAM_PROPAGATION_ENV: 2.0, SLOW_CHANGE_ENV: 2.0}

_LAMBDA_ROLE = "The role defined for the function cannot be assumed by Lambda."
_LOGS_PERMISSION = (
    "Could not execute the lambda function. Make sure you have given CloudWatch Logs "
    "permission to execute your function."
)

_lock = threading.Lock()
_settings: dict[str, Any] = {"iam": None, "slow": None, "clock": time.monotonic}
# (account, role name) -> when its trust policy / its permissions policies last changed.
_trust_changed: dict[tuple[str, str], float] = {}
_policy_changed: dict[tuple[str, str], float] = {}
# (account, region, function name) -> when a statement was last added to its resource policy.
_permission_added: dict[tuple[str, str, str], float] = {}
# (account, region, domain name) -> when its configuration last changed.
_domain_changed: dict[tuple[str, str, str], float] = {}
# (account, region, recorder name) -> when it was last started.
_recorder_started: dict[tuple[str, str, str], float] = {}


def configure(
    *,
    iam_propagation: float | None = None,
    slow_change: float | None = None,
    clock: Callable[[], float] | None = None,
) -> None:
    """Set the delays (seconds) and the clock; None leaves a setting to the environment / as it is.

    A new clock forgets every recorded change: times of the old one mean nothing to it.
    """
    with _lock:
        if iam_propagation is not None:
            _settings["iam"] = iam_propagation
        if slow_change is not None:
            _settings["slow"] = slow_change
        if clock is not None:
            _settings["clock"] = clock
            _forget()


def reset() -> None:
    """Back to the environment's delays and the real clock; forget every recorded change."""
    with _lock:
        _settings.update({"iam": None, "slow": None, "clock": time.monotonic})
        _forget()


def _forget() -> None:
    for table in (_trust_changed, _policy_changed, _permission_added, _domain_changed, _recorder_started):
        table.clear()


def _delay(key: str, env: str) -> float:
    configured = _settings[key]
    return float(configured) if configured is not None else float(os.environ.get(env) or 0)


def _now() -> float:
    return float(_settings["clock"]())


def _young(table: dict[Any, float], key: Any, delay: float) -> bool:
    if delay <= 0:
        return False
    with _lock:
        changed = table.get(key)
    return changed is not None and _now() - changed < delay


def _mark(table: dict[Any, float], key: Any) -> None:
    with _lock:
        table[key] = _now()


def _role_key(role_arn: str) -> tuple[str, str]:
    parts = role_arn.split(":")
    return (parts[4] if len(parts) > 4 else "", role_arn.rsplit("/", 1)[-1])


def role_settling(role_arn: str) -> bool:
    """True while a service could not assume ``role_arn`` yet."""
    return _young(_trust_changed, _role_key(role_arn), _delay("iam", IAM_PROPAGATION_ENV))


def policy_settling(role_arn: str) -> bool:
    """True while the permissions policies of ``role_arn`` are not in force yet."""
    return _young(_policy_changed, _role_key(role_arn), _delay("iam", IAM_PROPAGATION_ENV))


def _body(response: Any) -> dict[str, Any]:
    raw = response.body
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    try:
        parsed = json.loads(raw or "{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _role_arns(value: Any) -> list[str]:
    """Every ``RoleARN`` member anywhere in a Firehose request."""
    if isinstance(value, dict):
        found = [v for k, v in value.items() if k == "RoleARN" and isinstance(v, str)]
        return found + [arn for v in value.values() for arn in _role_arns(v)]
    if isinstance(value, list):
        return [arn for v in value for arn in _role_arns(v)]
    return []


# consumers ---------------------------------------------------------------------
def _lambda_role(response: Any) -> None:
    role = _body(response).get("Role")
    if role and role_settling(role):
        raise InvalidParameterValueException(_LAMBDA_ROLE)


def _firehose_role(response: Any) -> None:
    for role in _role_arns(_body(response)):
        if role_settling(role):
            raise InvalidArgumentException(f"Firehose is unable to assume role {role}. Please check the role provided.")


def _trail_role(response: Any) -> None:
    role = _body(response).get("CloudWatchLogsRoleArn")
    if not role:
        return
    if role_settling(role):
        raise JsonRESTError(
            "InvalidCloudWatchLogsRoleArnException", "Access denied. Check the trust relationships for your role."
        )
    if policy_settling(role):
        raise JsonRESTError(
            "InvalidCloudWatchLogsLogGroupArnException", "Access denied. Check the permissions for your role."
        )


def _recorder_role(response: Any) -> None:
    role = (_body(response).get("ConfigurationRecorder") or {}).get("roleARN")
    if role and role_settling(role):
        raise JsonRESTError("InvalidRoleException", f"The role {role} cannot be assumed by AWS Config yet.")


def _channel_role(response: Any) -> None:
    bucket = (_body(response).get("DeliveryChannel") or {}).get("s3BucketName")
    backend = response.config_backend
    for recorder in backend.recorders.values():
        role = getattr(recorder, "role_arn", None)
        if role and role_settling(role):
            raise JsonRESTError(
                "InsufficientDeliveryPolicyException",
                f"Insufficient delivery policy to s3 bucket: {bucket}, unable to assume role: {role}.",
            )


def _logs_permission(response: Any) -> None:
    destination = _body(response).get("destinationArn") or ""
    parts = destination.split(":")
    if len(parts) < 7 or parts[2] != "lambda":
        return
    key = (parts[4], parts[3], parts[6])
    if _young(_permission_added, key, _delay("iam", IAM_PROPAGATION_ENV)):
        raise InvalidParameterException(_LOGS_PERMISSION)


def _domain_config_changed(response: Any) -> None:
    name = response._get_param("DomainName")
    if name:
        _mark(_domain_changed, (response.current_account, response.region, name))


# recorders of changes -------------------------------------------------------------
def install() -> None:
    orig_create_role = IAMBackend.create_role
    orig_trust = IAMBackend.update_assume_role_policy
    orig_put_policy = IAMBackend.put_role_policy
    orig_attach = IAMBackend.attach_role_policy
    orig_detach = IAMBackend.detach_role_policy
    orig_add_permission = LambdaBackend.add_permission
    orig_start = ConfigBackend.start_configuration_recorder
    orig_recorder_status = ConfigBackend.describe_configuration_recorder_status
    orig_domain_config = OpenSearchServiceBackend.describe_domain_config

    def create_role(self: IAMBackend, *args: Any, **kwargs: Any) -> Any:
        role = orig_create_role(self, *args, **kwargs)
        _mark(_trust_changed, (self.account_id, role.name))
        return role

    def update_assume_role_policy(self: IAMBackend, role_name: str, policy_document: str) -> None:
        orig_trust(self, role_name, policy_document)
        _mark(_trust_changed, (self.account_id, role_name))

    def put_role_policy(self: IAMBackend, role_name: str, policy_name: str, policy_json: str) -> None:
        orig_put_policy(self, role_name, policy_name, policy_json)
        _mark(_policy_changed, (self.account_id, role_name))

    def attach_role_policy(self: IAMBackend, policy_arn: str, role_name: str) -> None:
        orig_attach(self, policy_arn, role_name)
        _mark(_policy_changed, (self.account_id, role_name))

    def detach_role_policy(self: IAMBackend, policy_arn: str, role_name: str) -> None:
        orig_detach(self, policy_arn, role_name)
        _mark(_policy_changed, (self.account_id, role_name))

    def add_permission(self: LambdaBackend, function_name: str, qualifier: str, raw: str) -> Any:
        statement = orig_add_permission(self, function_name, qualifier, raw)
        name = self.get_function(function_name, qualifier).function_name
        _mark(_permission_added, (self.account_id, self.region_name, name))
        return statement

    def start_configuration_recorder(self: ConfigBackend, recorder_name: str) -> None:
        orig_start(self, recorder_name)
        _mark(_recorder_started, (self.account_id, self.region_name, recorder_name))

    def describe_configuration_recorder_status(self: ConfigBackend, recorder_names: list[str]) -> Any:
        slow = _delay("slow", SLOW_CHANGE_ENV)
        for name, recorder in self.recorders.items():
            status = recorder.status
            started = (self.account_id, self.region_name, name)
            if status.recording and status.last_status == "PENDING" and not _young(_recorder_started, started, slow):
                status.last_status = "SUCCESS"
        return orig_recorder_status(self, recorder_names)

    def describe_domain_config(self: OpenSearchServiceBackend, domain_name: str) -> Any:
        config = orig_domain_config(self, domain_name)
        key = (self.account_id, self.region_name, domain_name)
        state = "Processing" if _young(_domain_changed, key, _delay("slow", SLOW_CHANGE_ENV)) else "Active"
        policies = config.setdefault("AccessPolicies", {"Options": ""})
        policies["Status"] = {"State": state, "UpdateVersion": 1, "PendingDeletion": False}
        return config

    patch(IAMBackend, "create_role", create_role)
    patch(IAMBackend, "update_assume_role_policy", update_assume_role_policy)
    patch(IAMBackend, "put_role_policy", put_role_policy)
    patch(IAMBackend, "attach_role_policy", attach_role_policy)
    patch(IAMBackend, "detach_role_policy", detach_role_policy)
    patch(LambdaBackend, "add_permission", add_permission)
    patch(ConfigBackend, "start_configuration_recorder", start_configuration_recorder)
    patch(ConfigBackend, "describe_configuration_recorder_status", describe_configuration_recorder_status)
    patch(OpenSearchServiceBackend, "describe_domain_config", describe_domain_config)

    before_action(LambdaResponse, "create_function", _lambda_role)
    before_action(LambdaResponse, "update_function_configuration", _lambda_role)
    before_action(FirehoseResponse, "create_delivery_stream", _firehose_role)
    before_action(FirehoseResponse, "update_destination", _firehose_role)
    before_action(CloudTrailResponse, "create_trail", _trail_role)
    before_action(CloudTrailResponse, "update_trail", _trail_role)
    before_action(ConfigResponse, "put_configuration_recorder", _recorder_role)
    before_action(ConfigResponse, "put_delivery_channel", _channel_role)
    before_action(LogsResponse, "put_subscription_filter", _logs_permission)
    before_action(OpenSearchServiceResponse, "update_domain_config", _domain_config_changed)
