"""A statement in a Lambda function's resource policy (who may invoke it).

It cannot be tagged: it counts as logpipe's when the function it sits on is logpipe's.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from logpipe.engine.context import Context
from logpipe.engine.model import Observed, Ref, Resource
from logpipe.resources.common import is_not_found


class LambdaPermission(Resource):
    kind = "lambda-permission"

    def __init__(
        self,
        function: Resource,
        *,
        statement_id: str,
        principal: str,
        source_arn: Ref | str,
        source_account: bool = True,
    ) -> None:
        super().__init__(f"{function.name}/{statement_id}", depends_on=(function,))
        self.function = function
        self.function_name = function.name
        self.statement_id = statement_id
        self.principal = principal
        self.source_arn = source_arn
        self.source_account = source_account

    def desired(self, ctx: Context) -> dict[str, Any]:
        return {
            "principal": self.principal,
            "source_arn": ctx.resolve(self.source_arn),
            "source_account": ctx.account_id if self.source_account else None,
        }

    def read(self, ctx: Context) -> Observed | None:
        function_outputs = ctx.outputs.get(self.function.key)
        if function_outputs is None:
            return None  # the function itself is missing
        try:
            policy = json.loads(ctx.aws.client("lambda").get_policy(FunctionName=self.function_name)["Policy"])
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise
        statement = next((s for s in policy.get("Statement", []) if s.get("Sid") == self.statement_id), None)
        if statement is None:
            return None
        principal = statement.get("Principal", {})
        condition = statement.get("Condition", {})
        return Observed(
            {
                "principal": principal.get("Service") if isinstance(principal, dict) else principal,
                "source_arn": condition.get("ArnLike", {}).get("AWS:SourceArn"),
                "source_account": condition.get("StringEquals", {}).get("AWS:SourceAccount"),
            },
            {"statement_id": self.statement_id},
            owned=ctx.is_owned(self.function),
        )

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        args: dict[str, Any] = {
            "FunctionName": self.function_name,
            "StatementId": self.statement_id,
            "Action": "lambda:InvokeFunction",
            "Principal": desired["principal"],
            "SourceArn": desired["source_arn"],
        }
        if desired["source_account"]:
            args["SourceAccount"] = desired["source_account"]
        ctx.aws.client("lambda").add_permission(**args)
        return {"statement_id": self.statement_id}

    def update(self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict) -> None:
        self.delete(ctx, observed)
        self.create(ctx, desired)
        return None

    def delete(self, ctx: Context, observed: Observed) -> None:
        try:
            ctx.aws.client("lambda").remove_permission(FunctionName=self.function_name, StatementId=self.statement_id)
        except ClientError as exc:
            if not is_not_found(exc):
                raise
