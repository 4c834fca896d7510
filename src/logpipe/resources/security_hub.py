"""Security Hub: the region's hub, and the extra standards the config asks for.

The hub is ``shared``. logpipe enables it only when it is off, tagging the hub as logpipe's
(``EnableSecurityHub`` ``Tags``); a hub without logpipe's tags was enabled by somebody else
and is never disabled. Standards subscriptions cannot be tagged: they belong to logpipe when
the hub does. A standard logpipe enables on somebody else's hub is therefore left enabled on
teardown, on purpose: logpipe cannot tell it apart from one its owner enabled.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from logpipe.aws import error_code
from logpipe.engine.context import Context
from logpipe.engine.model import UNKNOWN, Observed, Ref, Resource
from logpipe.errors import LogpipeError
from logpipe.resources.common import desired_tags_view
from logpipe.resources.ownership import tags_of

# Security Hub answers DescribeHub with this when the account is not subscribed.
_NOT_ENABLED = ("InvalidAccessException", "ResourceNotFoundException")
# Subscription states that mean "enabled, or on its way": DELETING/FAILED ones are not.
_ACTIVE = ("PENDING", "READY", "INCOMPLETE")

# CIS v1.2.0 predates regional standards ARNs: it is a global "ruleset".
_RULESET_STANDARDS = ("cis-aws-foundations-benchmark/v/1.2.0",)


def standards_arn(standard: str, *, partition: str, region: str) -> str:
    """A standard as the config names it → its ARN (an ARN is kept as it is).

    ``pci-dss/v/3.2.1`` → ``arn:aws:securityhub:<region>::standards/pci-dss/v/3.2.1``;
    ``cis-aws-foundations-benchmark/v/1.2.0`` → ``arn:aws:securityhub:::ruleset/…``.
    """
    if standard.startswith("arn:"):
        return standard
    short = standard.removeprefix("standards/").removeprefix("ruleset/")
    if short in _RULESET_STANDARDS:
        return f"arn:{partition}:securityhub:::ruleset/{short}"
    return f"arn:{partition}:securityhub:{region}::standards/{short}"


def hub_arn(ctx: Context) -> str:
    return ctx.arn("securityhub", "hub/default")


class SecurityHub(Resource):
    kind = "securityhub-hub"
    reads_alone = True
    policy = "shared"

    def __init__(self, name: str = "default", *, enable_default_standards: bool = True) -> None:
        super().__init__(name)
        self.enable_default_standards = enable_default_standards

    def describe(self) -> str:
        return "AWS Security Hub"

    def desired(self, ctx: Context) -> dict[str, Any]:
        return {"tags": ctx.tags}

    def read(self, ctx: Context) -> Observed | None:
        securityhub = ctx.aws.client("securityhub")
        try:
            hub = securityhub.describe_hub()
        except ClientError as exc:
            if error_code(exc) in _NOT_ENABLED:
                return None
            raise
        arn = hub["HubArn"]
        tags = tags_of(ctx, arn, ctx.tags, lambda: securityhub.list_tags_for_resource(ResourceArn=arn).get("Tags", {}))
        owned = ctx.owns(tags)
        return Observed(
            {"tags": desired_tags_view(tags, ctx.tags)},
            {"arn": arn},
            owned=owned,
            note="" if owned else "enabled by somebody else; used as it is and never disabled by logpipe",
        )

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        securityhub = ctx.aws.client("securityhub")
        securityhub.enable_security_hub(
            EnableDefaultStandards=self.enable_default_standards, Tags=dict(desired["tags"])
        )
        return {"arn": securityhub.describe_hub()["HubArn"]}

    def update(self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict) -> None:
        if "tags" in changes:
            ctx.aws.client("securityhub").tag_resource(ResourceArn=observed.outputs["arn"], Tags=desired["tags"])
        return None

    def delete(self, ctx: Context, observed: Observed) -> None:
        try:
            ctx.aws.client("securityhub").disable_security_hub()
        except ClientError as exc:
            if error_code(exc) not in _NOT_ENABLED:
                raise


def _enabled_standards(securityhub: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in securityhub.get_paginator("get_enabled_standards").paginate():
        found.extend(page.get("StandardsSubscriptions", []))
    return found


class SecurityHubStandard(Resource):
    """One standard enabled on the hub (``BatchEnableStandards``)."""

    kind = "securityhub-standard"
    policy = "shared"

    def __init__(self, name: str, *, standards_arn: str, hub: SecurityHub) -> None:
        super().__init__(name)
        self.standards_arn = standards_arn
        self.hub = hub
        self.hub_arn = Ref(hub, "arn")

    def describe(self) -> str:
        return f"Security Hub standard {self.standards_arn}"

    def desired(self, ctx: Context) -> dict[str, Any]:
        return {"enabled": True}

    def read(self, ctx: Context) -> Observed | None:
        if ctx.resolve(self.hub_arn) is UNKNOWN:
            return None  # Security Hub is off: no standard can be on
        subscription = self._subscription(ctx)
        if subscription is None:
            return None
        owned = ctx.is_owned(self.hub)
        status = subscription.get("StandardsStatus", "")
        return Observed(
            {"enabled": True},
            {"subscription_arn": subscription["StandardsSubscriptionArn"]},
            owned=owned,
            note="" if status == "READY" else f"status {status}",
        )

    def _subscription(self, ctx: Context, *, fresh: bool = False) -> dict[str, Any] | None:
        if fresh:
            subscriptions = _enabled_standards(ctx.aws.client("securityhub"))
        else:  # every standard of the hub, asked once per run
            subscriptions = ctx.aws.pages_once("securityhub", "get_enabled_standards", "StandardsSubscriptions")
        for subscription in subscriptions:
            status = subscription.get("StandardsStatus")
            if subscription.get("StandardsArn") == self.standards_arn and status in _ACTIVE:
                return subscription
        return None

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        # Enabling the hub with its default standards may have just enabled this one.
        existing = self._subscription(ctx, fresh=True)
        if existing is not None:
            return {"subscription_arn": existing["StandardsSubscriptionArn"]}
        result = ctx.aws.client("securityhub").batch_enable_standards(
            StandardsSubscriptionRequests=[{"StandardsArn": self.standards_arn}]
        )
        subscriptions = result.get("StandardsSubscriptions") or []
        if not subscriptions:
            raise LogpipeError(f"Security Hub did not enable {self.standards_arn}")
        return {"subscription_arn": subscriptions[0]["StandardsSubscriptionArn"]}

    def update(self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict) -> None:
        return None  # "enabled" is the only property and an existing subscription already is

    def delete(self, ctx: Context, observed: Observed) -> None:
        try:
            ctx.aws.client("securityhub").batch_disable_standards(
                StandardsSubscriptionArns=[observed.outputs["subscription_arn"]]
            )
        except ClientError as exc:
            if error_code(exc) not in (*_NOT_ENABLED, "InvalidInputException"):
                raise
