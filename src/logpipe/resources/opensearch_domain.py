"""Read-only reference to an existing Amazon OpenSearch Service domain."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from logpipe.engine.context import Context
from logpipe.engine.model import Observed, Resource
from logpipe.errors import UsageError
from logpipe.opensearch.mappings import flat_object_mode
from logpipe.resources.common import is_not_found


def domain_facts(status: dict[str, Any]) -> dict[str, Any]:
    """The facts logpipe needs from a DomainStatus: where it answers and how it is secured."""
    endpoint = status.get("Endpoint") or next(iter((status.get("Endpoints") or {}).values()), None)
    security = status.get("AdvancedSecurityOptions") or {}
    return {
        "name": status["DomainName"],
        "arn": status["ARN"],
        "endpoint": endpoint,
        "engine_version": status.get("EngineVersion", ""),
        # What the Lambda handlers shape documents for; an unsupported engine is refused by the templates.
        "flat_object_mode": _mode_or_none(status.get("EngineVersion", "")),
        "fgac": bool(security.get("Enabled")),
        "internal_user_database": bool(security.get("InternalUserDatabaseEnabled")),
        "vpc": bool(status.get("VPCOptions", {}).get("VPCId")),
        "processing": bool(status.get("Processing")),
    }


def _mode_or_none(engine_version: str) -> str | None:
    try:
        return flat_object_mode(engine_version)
    except UsageError:
        return None


def describe_domain(ctx: Context, name: str) -> dict[str, Any] | None:
    """The DomainStatus (as read once in this run), or None when there is no (live) domain of that name."""
    try:
        status = ctx.aws.read_once("opensearch", "describe_domain", DomainName=name)["DomainStatus"]
    except ClientError as exc:
        if is_not_found(exc):
            return None
        raise
    return None if status.get("Deleted") else status


def domain_note(facts: dict[str, Any]) -> str:
    return f"{facts['engine_version']}, fine-grained access control {'on' if facts['fgac'] else 'off'}"


class OpenSearchDomainRef(Resource):
    """The domain the pipelines write to. logpipe never changes or deletes it through this kind."""

    kind = "opensearch-domain"
    reads_alone = True
    policy = "external"

    def describe(self) -> str:
        return f"OpenSearch Service domain {self.name}"

    def read(self, ctx: Context) -> Observed | None:
        status = describe_domain(ctx, self.name)
        if status is None:
            return None
        facts = domain_facts(status)
        return Observed({}, facts, owned=False, note=domain_note(facts))
