"""AWS Config managed rule (source owner AWS), tagged as logpipe's.

``shared``: a rule logpipe did not create is used as it is and never deleted. That covers
a rule under logpipe's name without its tags, and also a rule of any name that already
evaluates the same managed rule (``SourceIdentifier``): a second copy would only double
the evaluations (and their cost) and the findings. Service-linked rules (``CreatedBy`` set,
such as Security Hub's rules for its controls) do not count: their service owns them.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from logpipe.aws import error_code
from logpipe.engine.context import Context
from logpipe.engine.model import Observed, Resource
from logpipe.resources.common import desired_tags_view, tag_dict, tag_list
from logpipe.resources.ownership import tags_of

_NO_RULE = "NoSuchConfigRuleException"


def region_rules(ctx: Context) -> list[dict[str, Any]]:
    """Every Config rule of the region, asked once per run for all of logpipe's rules."""
    return ctx.aws.pages_once("config", "describe_config_rules", "ConfigRules")


def rule_name(prefix: str, identifier: str) -> str:
    """``demogo`` + ``CLOUD_TRAIL_ENABLED`` → ``demogo-cloud-trail-enabled`` (the console's style)."""
    return f"{prefix}-{identifier.lower().replace('_', '-')}"


class ConfigRule(Resource):
    kind = "config-rule"
    reads_alone = True
    policy = "shared"

    def __init__(self, name: str, *, identifier: str, depends_on: tuple[Resource, ...] = ()) -> None:
        super().__init__(name, depends_on=depends_on)
        self.identifier = identifier

    def describe(self) -> str:
        return f"AWS Config managed rule {self.identifier}"

    def desired(self, ctx: Context) -> dict[str, Any]:
        return {"source": {"Owner": "AWS", "SourceIdentifier": self.identifier}, "tags": ctx.tags}

    def read(self, ctx: Context) -> Observed | None:
        rules = region_rules(ctx)
        rule = next((r for r in rules if r.get("ConfigRuleName") == self.name), None)
        if rule is None:
            return self._same_rule_elsewhere(rules)
        if rule.get("ConfigRuleState") == "DELETING":
            return None
        arn = rule["ConfigRuleArn"]
        config = ctx.aws.client("config")
        tags = tags_of(ctx, arn, ctx.tags, lambda: tag_dict(config.list_tags_for_resource(ResourceArn=arn).get("Tags")))
        source = rule.get("Source") or {}
        return Observed(
            {
                "source": {"Owner": source.get("Owner"), "SourceIdentifier": source.get("SourceIdentifier")},
                "tags": desired_tags_view(tags, ctx.tags),
            },
            {"name": self.name, "arn": rule["ConfigRuleArn"]},
            owned=ctx.owns(tags),
        )

    def _same_rule_elsewhere(self, rules: list[dict[str, Any]]) -> Observed | None:
        for rule in rules:
            if rule.get("CreatedBy"):
                # A service-linked rule (CreatedBy names the service, e.g. Security Hub's
                # securityhub-<rule>-<id> for its controls) is "enabled and controlled by" that
                # service, which makes it "even if other instances of the same rules already
                # exist" and removes it with the control: not a rule logpipe can rely on.
                continue
            source = rule.get("Source") or {}
            if source.get("Owner") == "AWS" and source.get("SourceIdentifier") == self.identifier:
                return Observed(
                    {},
                    {"name": rule["ConfigRuleName"], "arn": rule["ConfigRuleArn"]},
                    owned=False,
                    note=f"rule {rule['ConfigRuleName']} already evaluates {self.identifier}; used as it is",
                )
        return None

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        config = ctx.aws.client("config")
        config.put_config_rule(ConfigRule=self._rule(desired), Tags=tag_list(desired["tags"]))
        rule = config.describe_config_rules(ConfigRuleNames=[self.name])["ConfigRules"][0]
        return {"name": self.name, "arn": rule["ConfigRuleArn"]}

    def update(self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict) -> None:
        config = ctx.aws.client("config")
        if "source" in changes:
            config.put_config_rule(ConfigRule=self._rule(desired))
        if "tags" in changes:
            config.tag_resource(ResourceArn=observed.outputs["arn"], Tags=tag_list(desired["tags"]))
        return None

    def _rule(self, desired: dict[str, Any]) -> dict[str, Any]:
        # Managed rules bring their own trigger (periodic or on change) and default scope.
        return {
            "ConfigRuleName": self.name,
            "Description": f"logpipe: AWS Config managed rule {self.identifier}",
            "Source": desired["source"],
        }

    def delete(self, ctx: Context, observed: Observed) -> None:
        try:
            ctx.aws.client("config").delete_config_rule(ConfigRuleName=self.name)
        except ClientError as exc:
            if error_code(exc) != _NO_RULE:
                raise
