"""Lambda function deployed from a handler in ``logpipe/lambdas`` (deterministic zip)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from logpipe.aws import error_code
from logpipe.engine.context import Context
from logpipe.engine.model import Observed, Ref, Resource
from logpipe.lambdas.package import build
from logpipe.resources.common import desired_tags_view, is_not_found
from logpipe.resources.iam_role import role_name
from logpipe.resources.waiting import retry_while

RUNTIME = "python3.12"


def _role_not_ready(exc: ClientError) -> bool:
    # A role created seconds ago is not yet assumable by Lambda; AWS answers
    # InvalidParameterValueException "The role defined for the function cannot be assumed by Lambda."
    return error_code(exc) == "InvalidParameterValueException" and "cannot be assumed" in str(exc)


def _waiting_for_role(role_arn: str, operation: str) -> str:
    return f"IAM role {role_name(role_arn)} to propagate (Lambda {operation}: role cannot be assumed)"


class LambdaFunction(Resource):
    kind = "lambda-function"
    reads_alone = True

    def __init__(
        self,
        name: str,
        *,
        module: str,
        role_arn: Ref | str,
        environment: dict[str, Any] | None = None,
        memory_mb: int = 256,
        timeout_seconds: int = 60,
        description: str = "",
        depends_on: tuple[Resource, ...] = (),
    ) -> None:
        super().__init__(name, depends_on=depends_on)
        self.module = module
        self.role_arn = role_arn
        self.environment = environment or {}
        self.memory_mb = memory_mb
        self.timeout_seconds = timeout_seconds
        self.description = description or f"logpipe {module}"

    def desired(self, ctx: Context) -> dict[str, Any]:
        package = build(self.module)
        return {
            "code_sha256": package.code_sha256,
            "handler": package.handler,
            "runtime": RUNTIME,
            "role": ctx.resolve(self.role_arn),
            "memory_mb": self.memory_mb,
            "timeout_seconds": self.timeout_seconds,
            "environment": {k: str(v) for k, v in ctx.resolve(self.environment).items()},
            "tags": ctx.tags,
        }

    def read(self, ctx: Context) -> Observed | None:
        try:
            found = ctx.aws.client("lambda").get_function(FunctionName=self.name)
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise
        conf = found["Configuration"]
        if "Tags" in found:
            tags = found["Tags"] or {}
        else:
            # GetFunction returns Tags only to callers explicitly allowed lambda:ListTags (else it
            # omits them, with TagsError): ask ListTags, which fails loudly rather than "not owned".
            tags = ctx.aws.client("lambda").list_tags(Resource=conf["FunctionArn"]).get("Tags") or {}
        return Observed(
            {
                "code_sha256": conf.get("CodeSha256"),
                "handler": conf.get("Handler"),
                "runtime": conf.get("Runtime"),
                "role": conf.get("Role"),
                "memory_mb": conf.get("MemorySize"),
                "timeout_seconds": conf.get("Timeout"),
                "environment": (conf.get("Environment") or {}).get("Variables", {}),
                "tags": desired_tags_view(tags, ctx.tags),
            },
            {"arn": conf["FunctionArn"], "name": self.name},
            owned=ctx.owns(tags),
        )

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        client = ctx.aws.client("lambda")
        package = build(self.module)
        created = retry_while(
            ctx,
            lambda: client.create_function(
                FunctionName=self.name,
                Runtime=desired["runtime"],
                Role=desired["role"],
                Handler=desired["handler"],
                Code={"ZipFile": package.zip_bytes},
                Description=self.description,
                Timeout=desired["timeout_seconds"],
                MemorySize=desired["memory_mb"],
                Environment={"Variables": desired["environment"]},
                Tags=desired["tags"],
                Publish=False,
            ),
            _role_not_ready,
            what=_waiting_for_role(desired["role"], "CreateFunction"),
        )
        # A new function is Pending until Lambda has set it up: wait for State Active
        # (function_updated_v2 watches LastUpdateStatus, which is about updates).
        self._wait(ctx, "function_active_v2")
        return {"arn": created["FunctionArn"], "name": self.name}

    def update(self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict) -> None:
        client = ctx.aws.client("lambda")
        if "code_sha256" in changes:
            client.update_function_code(FunctionName=self.name, ZipFile=build(self.module).zip_bytes)
            self._wait(ctx)
        config_keys = {"handler", "runtime", "role", "memory_mb", "timeout_seconds", "environment"}
        if config_keys & set(changes):
            retry_while(
                ctx,
                lambda: client.update_function_configuration(
                    FunctionName=self.name,
                    Runtime=desired["runtime"],
                    Role=desired["role"],
                    Handler=desired["handler"],
                    Timeout=desired["timeout_seconds"],
                    MemorySize=desired["memory_mb"],
                    Environment={"Variables": desired["environment"]},
                ),
                _role_not_ready,
                what=_waiting_for_role(desired["role"], "UpdateFunctionConfiguration"),
            )
            self._wait(ctx)
        if "tags" in changes:
            client.tag_resource(Resource=observed.outputs["arn"], Tags=desired["tags"])
        return None

    def delete(self, ctx: Context, observed: Observed) -> None:
        try:
            ctx.aws.client("lambda").delete_function(FunctionName=self.name)
        except ClientError as exc:
            if not is_not_found(exc):
                raise

    def _wait(self, ctx: Context, waiter_name: str = "function_updated_v2") -> None:
        """Lambda rejects a second change while the first is in progress; wait for it to settle."""
        waiter = ctx.aws.client("lambda").get_waiter(waiter_name)
        waiter.wait(FunctionName=self.name, WaiterConfig={"Delay": 2, "MaxAttempts": 90})
