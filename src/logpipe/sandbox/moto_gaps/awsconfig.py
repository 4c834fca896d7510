"""AWS Config and service-linked role gaps.

- ``iam.CreateServiceLinkedRole`` names roles by capitalising nothing but a few services:
  ``config.amazonaws.com`` becomes ``AWSServiceRoleForconfig``; AWS names it
  ``AWSServiceRoleForConfig`` (likewise ``AWSServiceRoleForAmazonGuardDuty`` and
  ``AWSServiceRoleForSecurityHub``), so a lookup by the documented name failed.
- ``PutConfigRule`` succeeded without a configuration recorder; AWS answers
  ``NoAvailableConfigurationRecorderException``.
- ``PutDeliveryChannel`` accepted a bucket that does not exist; AWS answers
  ``NoSuchBucketException``.
- ``DescribeConfigRules`` with ``ConfigRuleNames`` answered an empty list when the region had
  no rule at all; AWS answers ``NoSuchConfigRuleException`` for a name it does not know.
"""

from __future__ import annotations

from typing import Any

from moto.config.exceptions import NoSuchConfigRuleException
from moto.config.models import ConfigBackend
from moto.core.exceptions import JsonRESTError
from moto.iam import models as iam_models
from moto.utilities.utils import get_partition

from ._patching import patch

# service principal's first label -> the name AWS gives its service-linked role (after "AWSServiceRoleFor").
SERVICE_LINKED_ROLE_NAMES = {
    "config": "Config",
    "guardduty": "AmazonGuardDuty",
    "securityhub": "SecurityHub",
}


class _NoRecorderForRule(JsonRESTError):
    code = 400

    def __init__(self) -> None:
        super().__init__(
            "NoAvailableConfigurationRecorderException", "Configuration recorder is not available to put config rule."
        )


class _NoSuchBucket(JsonRESTError):
    code = 400

    def __init__(self, bucket: str) -> None:
        super().__init__("NoSuchBucketException", f"Cannot find a S3 bucket with name {bucket}.")


def _bucket_exists(account_id: str, region: str, bucket: str) -> bool:
    from moto.s3.models import s3_backends

    return bucket in s3_backends[account_id][get_partition(region)].buckets


def install() -> None:
    for service, name in SERVICE_LINKED_ROLE_NAMES.items():
        iam_models.SERVICE_NAME_CONVERSION.setdefault(service, name)

    orig_put_rule = ConfigBackend.put_config_rule
    orig_put_channel = ConfigBackend.put_delivery_channel

    def put_config_rule(self: ConfigBackend, config_rule: dict[str, Any], tags: Any = None) -> str:
        if not self.recorders:
            raise _NoRecorderForRule()
        return orig_put_rule(self, config_rule, tags)  # type: ignore[no-any-return]

    def put_delivery_channel(self: ConfigBackend, delivery_channel: dict[str, Any]) -> None:
        bucket = delivery_channel.get("s3BucketName")
        if self.recorders and bucket and not _bucket_exists(self.account_id, self.region_name, bucket):
            raise _NoSuchBucket(bucket)
        orig_put_channel(self, delivery_channel)

    orig_describe_rules = ConfigBackend.describe_config_rules

    def describe_config_rules(self: ConfigBackend, config_rule_names: list[str] | None, next_token: str | None) -> Any:
        for name in config_rule_names or []:
            if name not in self.config_rules:
                raise NoSuchConfigRuleException(name)
        return orig_describe_rules(self, config_rule_names, next_token)

    patch(ConfigBackend, "put_config_rule", put_config_rule)
    patch(ConfigBackend, "describe_config_rules", describe_config_rules)
    patch(ConfigBackend, "put_delivery_channel", put_delivery_channel)
