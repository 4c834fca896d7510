"""EventBridge rule on the default bus (tagged), and a target of it.

Targets cannot be tagged: a target is logpipe's when its rule is. Deleting logpipe's rule
first removes its targets (AWS refuses to delete a rule that still has some).
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from logpipe.engine.context import Context
from logpipe.engine.model import UNKNOWN, Observed, Ref, Resource
from logpipe.errors import LogpipeError
from logpipe.resources.common import desired_tags_view, is_not_found, tag_dict, tag_list
from logpipe.resources.ownership import tags_of


class EventRule(Resource):
    kind = "eventbridge-rule"
    reads_alone = True

    def __init__(self, name: str, *, event_pattern: dict[str, Any], description: str = "") -> None:
        super().__init__(name)
        self.event_pattern = event_pattern
        self.description = description or "Created by logpipe"

    def desired(self, ctx: Context) -> dict[str, Any]:
        return {
            "event_pattern": self.event_pattern,
            "state": "ENABLED",
            "description": self.description,
            "tags": ctx.tags,
        }

    def read(self, ctx: Context) -> Observed | None:
        events = ctx.aws.client("events")
        try:
            rule = events.describe_rule(Name=self.name)
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise
        arn = rule["Arn"]
        tags = tags_of(ctx, arn, ctx.tags, lambda: tag_dict(events.list_tags_for_resource(ResourceARN=arn).get("Tags")))
        pattern = rule.get("EventPattern")
        return Observed(
            {
                "event_pattern": json.loads(pattern) if pattern else None,
                "state": rule.get("State"),
                "description": rule.get("Description", ""),
                "tags": desired_tags_view(tags, ctx.tags),
            },
            {"name": self.name, "arn": rule["Arn"]},
            owned=ctx.owns(tags),
        )

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        arn = ctx.aws.client("events").put_rule(**self._rule(desired), Tags=tag_list(desired["tags"]))["RuleArn"]
        return {"name": self.name, "arn": arn}

    def update(self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict) -> None:
        events = ctx.aws.client("events")
        if set(changes) - {"tags"}:
            # PutRule replaces the whole rule (pattern, state, description); tags are kept.
            events.put_rule(**self._rule(desired))
        if "tags" in changes:
            events.tag_resource(ResourceARN=observed.outputs["arn"], Tags=tag_list(desired["tags"]))
        return None

    def _rule(self, desired: dict[str, Any]) -> dict[str, Any]:
        return {
            "Name": self.name,
            "EventPattern": json.dumps(desired["event_pattern"], separators=(",", ":")),
            "State": desired["state"],
            "Description": desired["description"],
        }

    def delete(self, ctx: Context, observed: Observed) -> None:
        events = ctx.aws.client("events")
        ids = [t["Id"] for t in _targets(events, self.name)]
        if ids:
            _remove_targets(events, self.name, ids)
        try:
            events.delete_rule(Name=self.name)
        except ClientError as exc:
            if not is_not_found(exc):
                raise


def _targets(events: Any, rule: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in events.get_paginator("list_targets_by_rule").paginate(Rule=rule):
        found.extend(page.get("Targets", []))
    return found


def _remove_targets(events: Any, rule: str, ids: list[str]) -> None:
    result = events.remove_targets(Rule=rule, Ids=ids)
    if result.get("FailedEntryCount"):
        failed = "; ".join(f"{e.get('TargetId')}: {e.get('ErrorMessage')}" for e in result.get("FailedEntries", []))
        raise LogpipeError(f"EventBridge did not remove target(s) of rule {rule}: {failed}")


class EventTarget(Resource):
    """One target of an EventBridge rule, invoked with ``role_arn`` (needed for Firehose)."""

    kind = "eventbridge-target"
    starts_data_flow = True

    def __init__(self, rule: EventRule, target_id: str, *, arn: Ref | str, role_arn: Ref | str) -> None:
        super().__init__(f"{rule.name}/{target_id}")
        self.rule = rule
        self.rule_name = Ref(rule, "name")
        self.target_id = target_id
        self.arn = arn
        self.role_arn = role_arn

    def desired(self, ctx: Context) -> dict[str, Any]:
        return {"arn": ctx.resolve(self.arn), "role_arn": ctx.resolve(self.role_arn)}

    def read(self, ctx: Context) -> Observed | None:
        rule_name = ctx.resolve(self.rule_name)
        if rule_name is UNKNOWN:
            return None  # no rule, no target
        target = next((t for t in _targets(ctx.aws.client("events"), rule_name) if t["Id"] == self.target_id), None)
        if target is None:
            return None
        return Observed(
            {"arn": target.get("Arn"), "role_arn": target.get("RoleArn")},
            {"id": self.target_id, "rule": rule_name},
            owned=ctx.is_owned(self.rule),
        )

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        self._put(ctx, desired)
        return {"id": self.target_id, "rule": self.rule.name}

    def update(self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict) -> None:
        self._put(ctx, desired)
        return None

    def _put(self, ctx: Context, desired: dict[str, Any]) -> None:
        result = ctx.aws.client("events").put_targets(
            Rule=self.rule.name,
            Targets=[{"Id": self.target_id, "Arn": desired["arn"], "RoleArn": desired["role_arn"]}],
        )
        # PutTargets reports per-target failures in a 200 response: they must not pass silently.
        if result.get("FailedEntryCount"):
            failed = "; ".join(f"{e.get('ErrorCode')}: {e.get('ErrorMessage')}" for e in result["FailedEntries"])
            raise LogpipeError(f"EventBridge refused target {self.target_id} of rule {self.rule.name}: {failed}")

    def delete(self, ctx: Context, observed: Observed) -> None:
        events = ctx.aws.client("events")
        try:
            _remove_targets(events, self.rule.name, [self.target_id])
        except ClientError as exc:
            if not is_not_found(exc):
                raise
