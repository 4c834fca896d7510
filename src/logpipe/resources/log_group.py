"""CloudWatch Logs log group with retention and tags."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from logpipe.engine.context import Context
from logpipe.engine.model import Observed, Resource
from logpipe.resources.common import desired_tags_view, is_not_found
from logpipe.resources.ownership import tags_of


class LogGroup(Resource):
    kind = "log-group"
    reads_alone = True

    def __init__(self, name: str, *, retention_days: int) -> None:
        super().__init__(name)
        self.retention_days = retention_days

    def arn(self, ctx: Context) -> str:
        return ctx.arn("logs", f"log-group:{self.name}")

    def desired(self, ctx: Context) -> dict[str, Any]:
        return {"retention_days": self.retention_days, "tags": ctx.tags}

    def read(self, ctx: Context) -> Observed | None:
        logs = ctx.aws.client("logs")
        groups = logs.describe_log_groups(logGroupNamePrefix=self.name).get("logGroups", [])
        group = next((g for g in groups if g["logGroupName"] == self.name), None)
        if group is None:
            return None
        # ListTagsLogGroup/TagLogGroup are deprecated; ListTagsForResource/TagResource take the
        # group's ARN without the trailing ":*" (describe_log_groups' logGroupArn).
        arn = self._tag_arn(ctx, group)
        tags = tags_of(ctx, arn, ctx.tags, lambda: logs.list_tags_for_resource(resourceArn=arn).get("tags", {}))
        return Observed(
            {"retention_days": group.get("retentionInDays"), "tags": desired_tags_view(tags, ctx.tags)},
            {"name": self.name, "arn": self.arn(ctx)},
            owned=ctx.owns(tags),
        )

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        logs = ctx.aws.client("logs")
        logs.create_log_group(logGroupName=self.name, tags=desired["tags"])
        logs.put_retention_policy(logGroupName=self.name, retentionInDays=desired["retention_days"])
        return {"name": self.name, "arn": self.arn(ctx)}

    def update(self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict) -> None:
        logs = ctx.aws.client("logs")
        if "retention_days" in changes:
            logs.put_retention_policy(logGroupName=self.name, retentionInDays=desired["retention_days"])
        if "tags" in changes:
            logs.tag_resource(resourceArn=self.arn(ctx), tags=desired["tags"])
        return None

    def _tag_arn(self, ctx: Context, group: dict[str, Any]) -> str:
        return group.get("logGroupArn") or self.arn(ctx)

    def delete(self, ctx: Context, observed: Observed) -> None:
        try:
            ctx.aws.client("logs").delete_log_group(logGroupName=self.name)
        except ClientError as exc:
            if not is_not_found(exc):
                raise
