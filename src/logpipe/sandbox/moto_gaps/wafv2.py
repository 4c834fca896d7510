"""WAFv2 gaps.

PutLoggingConfiguration: moto stores any destination. AWS requires the destination's name
to start with ``aws-waf-logs-`` (Firehose stream, CloudWatch Logs group or S3 bucket) and
rejects others with ``WAFInvalidParameterException`` ("The ARN isn't valid ...",
field ``LOG_DESTINATION``); it also rejects a web ACL that does not exist
(``WAFNonexistentItemException``).
"""

from __future__ import annotations

from typing import Any

from moto.wafv2.exceptions import WAFNonexistentItemException
from moto.wafv2.models import GLOBAL_REGION, WAFV2Backend, wafv2_backends

from ._patching import AwsError, patch

PREFIX = "aws-waf-logs-"
_INVALID_ARN = (
    "Error reason: The ARN isn't valid. A valid ARN begins with arn: and includes other "
    "information separated by colons or slashes., field: {field}, parameter: {arn}"
)


def _destination_name(arn: str) -> str | None:
    """The resource name WAF checks for the prefix, or None when the ARN is not a log destination."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    service, resource = parts[2], parts[5]
    if service == "firehose" and resource.startswith("deliverystream/"):
        return resource.split("/", 1)[1]
    if service == "logs" and resource.startswith("log-group:"):
        return resource.split(":")[1]
    if service == "s3":
        return resource.split("/", 1)[0]
    return None


def _invalid(field: str, arn: str) -> AwsError:
    return AwsError(
        "WAFInvalidParameterException",
        _INVALID_ARN.format(field=field, arn=arn),
        Field=field,
        Parameter=arn,
    )


def install() -> None:
    orig_put = WAFV2Backend.put_logging_configuration

    def put_logging_configuration(self: WAFV2Backend, arn: str, log_destination_configs: list[str], *args: Any) -> Any:
        known = set(self.wacls)
        if ":global/" in arn and self.account_id in wafv2_backends:
            known |= set(wafv2_backends[self.account_id][GLOBAL_REGION].wacls)
        if arn not in known:
            raise WAFNonexistentItemException()
        for destination in log_destination_configs or []:
            name = _destination_name(destination)
            if name is None or not name.startswith(PREFIX):
                raise _invalid("LOG_DESTINATION", destination)
        return orig_put(self, arn, log_destination_configs, *args)

    patch(WAFV2Backend, "put_logging_configuration", put_logging_configuration)
