"""CloudWatch Logs subscription filter: streams a log group's events to a destination (a Lambda here).

It cannot be tagged: it counts as logpipe's when the log group it sits on is logpipe's.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from logpipe.aws import error_code
from logpipe.engine.context import Context
from logpipe.engine.model import UNKNOWN, Observed, Ref, Resource
from logpipe.resources.common import is_not_found
from logpipe.resources.log_group import LogGroup
from logpipe.resources.waiting import retry_while


def _permission_not_ready(exc: ClientError) -> bool:
    # CloudWatch Logs test-invokes the function when the filter is put; a resource-policy
    # statement added seconds earlier may not be visible to it yet: InvalidParameterException
    # "Could not execute the lambda function. Make sure you have given CloudWatch Logs permission ...".
    return error_code(exc) == "InvalidParameterException" and "could not execute the lambda" in str(exc).lower()


class SubscriptionFilter(Resource):
    kind = "subscription-filter"
    starts_data_flow = True

    def __init__(
        self,
        name: str,
        *,
        log_group: LogGroup,
        destination_arn: Ref | str,
        filter_pattern: str = "",
        depends_on: tuple[Resource, ...] = (),
    ) -> None:
        super().__init__(name, depends_on=(log_group, *depends_on))
        self.log_group = log_group
        self.log_group_name = log_group.name
        self.destination_arn = destination_arn
        self.filter_pattern = filter_pattern

    def describe(self) -> str:
        return f"subscription filter {self.name} on {self.log_group_name}"

    def desired(self, ctx: Context) -> dict[str, Any]:
        return {"filter_pattern": self.filter_pattern, "destination_arn": ctx.resolve(self.destination_arn)}

    def read(self, ctx: Context) -> Observed | None:
        if ctx.resolve(Ref(self.log_group, "name")) is UNKNOWN:
            return None  # the log group itself is missing
        try:
            filters = (
                ctx.aws.client("logs")
                .describe_subscription_filters(logGroupName=self.log_group_name, filterNamePrefix=self.name)
                .get("subscriptionFilters", [])
            )
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise
        found = next((f for f in filters if f.get("filterName") == self.name), None)
        if found is None:
            return None
        return Observed(
            {"filter_pattern": found.get("filterPattern", ""), "destination_arn": found.get("destinationArn")},
            {"name": self.name, "log_group": self.log_group_name},
            owned=ctx.is_owned(self.log_group),
        )

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        self._put(ctx, desired)
        return {"name": self.name, "log_group": self.log_group_name}

    def update(self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict) -> None:
        # PutSubscriptionFilter with the same name replaces the filter in place.
        self._put(ctx, desired)
        return None

    def delete(self, ctx: Context, observed: Observed) -> None:
        try:
            ctx.aws.client("logs").delete_subscription_filter(logGroupName=self.log_group_name, filterName=self.name)
        except ClientError as exc:
            if not is_not_found(exc):
                raise

    def _put(self, ctx: Context, desired: dict[str, Any]) -> None:
        logs = ctx.aws.client("logs")
        function = str(desired["destination_arn"]).rsplit(":", 1)[-1]
        retry_while(
            ctx,
            lambda: logs.put_subscription_filter(
                logGroupName=self.log_group_name,
                filterName=self.name,
                filterPattern=desired["filter_pattern"],
                destinationArn=desired["destination_arn"],
            ),
            _permission_not_ready,
            what=(
                f"the permission for CloudWatch Logs on Lambda function {function} to propagate "
                "(CloudWatch Logs PutSubscriptionFilter: could not execute the lambda function)"
            ),
        )
