"""Declarations several pipelines share; the engine merges them by key, so each exists once."""

from __future__ import annotations

from typing import Any

from logpipe.config import LambdaSettings
from logpipe.engine.context import Context
from logpipe.engine.model import Ref, Resource
from logpipe.resources.iam_role import IamRole, allow, policy_document, service_trust
from logpipe.resources.lambda_function import LambdaFunction
from logpipe.resources.log_group import LogGroup
from logpipe.resources.opensearch_domain import OpenSearchDomainRef
from logpipe.resources.s3_bucket import S3Bucket

LAMBDA_LOG_RETENTION_DAYS = 30
# What a failed invocation leaves in a Lambda's log group (an uncaught error, a timeout), and the
# handlers' own warnings about records they could not use); a CloudWatch Logs filter pattern.
LAMBDA_ERROR_PATTERN = '?"[ERROR]" ?"[WARNING]" ?"Task timed out"'


def domain(ctx: Context) -> Resource:
    """The domain every pipeline writes to: the pre-existing one, or one logpipe creates when
    ``opensearch.create_domain`` is set. Same key either way, so it is declared once."""
    if ctx.config.opensearch.create_domain:
        from logpipe.resources.opensearch_domain_create import OpenSearchDomain

        return OpenSearchDomain(ctx.config.opensearch.domain)
    return OpenSearchDomainRef(ctx.config.opensearch.domain)


def backup_bucket(ctx: Context) -> S3Bucket:
    """Failed documents land here; an existing bucket of that name is used as it is."""
    return S3Bucket(ctx.config.backup_bucket_name, policy="shared")


def domain_write_statement(domain_ref: Resource) -> dict[str, Any]:
    """Write to the domain's indices over HTTP, nothing else on the domain."""
    return allow(
        ["es:ESHttpPost", "es:ESHttpPut", "es:ESHttpGet", "es:DescribeDomain"],
        [Ref(domain_ref, "arn"), Ref(domain_ref, "arn", "{}/*")],
    )


def lambda_function(
    ctx: Context,
    short_name: str,
    *,
    module: str,
    settings: LambdaSettings,
    environment: dict[str, Any] | None = None,
    statements: list[dict[str, Any]] | None = None,
    description: str = "",
) -> tuple[LogGroup, IamRole, LambdaFunction]:
    """A logpipe Lambda with its own log group (retention set, removed on teardown) and role.

    The role may write only to the function's own log group plus ``statements``.
    """
    name = ctx.name(short_name)
    log_group = LogGroup(f"/aws/lambda/{name}", retention_days=LAMBDA_LOG_RETENTION_DAYS)
    role = IamRole(
        f"{name}-role",
        trust=service_trust("lambda.amazonaws.com"),
        inline_policy=policy_document(
            allow(["logs:CreateLogStream", "logs:PutLogEvents"], f"{log_group.arn(ctx)}:*"),
            *(statements or []),
        ),
        description=f"logpipe: execution role of {name}",
    )
    function = LambdaFunction(
        name,
        module=module,
        role_arn=Ref(role, "arn"),
        environment=environment,
        memory_mb=settings.memory_mb,
        timeout_seconds=settings.timeout_seconds,
        description=description,
        depends_on=(log_group,),
    )
    return log_group, role, function
