"""Leftovers: resources tagged as this stack's that no pipeline declares any more.

A renamed stream, trail or role (a config change) leaves the old one behind: the engine only
reads what is declared. These are found by their ownership tags (the Resource Groups Tagging
API, plus IAM, which that API does not cover) and removed by `teardown all` or `up --prune`.
Only resources carrying both of logpipe's tags for this prefix are ever considered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from logpipe.engine.context import Context
from logpipe.errors import LogpipeError
from logpipe.resources.common import is_not_found, tag_dict, wait_for
from logpipe.resources.iam_role import account_roles
from logpipe.resources.ownership import stack_listing

# Consumers before what they consume: a rule before its stream, a stream before its role.
_DELETE_ORDER = ("events", "ec2", "route53resolver", "config", "cloudtrail", "firehose", "lambda", "logs", "iam", "s3")


@dataclass(frozen=True)
class Orphan:
    arn: str

    @property
    def service(self) -> str:
        return self.arn.split(":")[2]

    @property
    def resource(self) -> str:
        return self.arn.split(":", 5)[5]

    def as_dict(self) -> dict[str, str]:
        return {"service": self.service, "resource": self.resource, "arn": self.arn}


def _is_known(arn: str, known: set[str]) -> bool:
    if arn in known:
        return True
    # Flow logs are known by id (fl-...); their ARN's last part is that id.
    return arn.split(":")[2] == "ec2" and arn.rsplit("/", 1)[-1] in known


def find(ctx: Context, known: set[str]) -> list[Orphan]:
    found = [arn for arn in _tagged_arns(ctx) + _tagged_roles(ctx) if not _is_known(arn, known)]
    deletable = [arn for arn in found if arn.split(":")[2] in _DELETE_ORDER]
    return sorted((Orphan(a) for a in deletable), key=lambda o: (_DELETE_ORDER.index(o.service), o.arn))


def _tagged_arns(ctx: Context) -> list[str]:
    # The same listing the resources' reads used in this run (asked once).
    return list(stack_listing(ctx))


def _tagged_roles(ctx: Context) -> list[str]:
    """IAM roles are not in the tagging API: take them from the account's role listing the reads
    used, else list them and read tags only of logpipe-described ones."""
    known = account_roles(ctx)
    if known is not None:
        return [role["Arn"] for role in known.values() if ctx.owns(tag_dict(role.get("Tags")))]
    iam = ctx.aws.client("iam")
    arns = []
    for page in iam.get_paginator("list_roles").paginate():
        for role in page.get("Roles", []):
            if "logpipe" not in (role.get("Description") or "").lower():
                continue
            tags = tag_dict(iam.list_role_tags(RoleName=role["RoleName"]).get("Tags"))
            if ctx.owns(tags):
                arns.append(role["Arn"])
    return arns


def delete(ctx: Context, orphan: Orphan) -> None:
    """Delete one leftover; a resource already gone is fine."""
    try:
        _DELETERS[orphan.service](ctx, orphan)
    except ClientError as exc:
        if not is_not_found(exc, "TrailNotFoundException", "NoSuchConfigRuleException", "InvalidFlowLogId.NotFound"):
            raise


def _events(ctx: Context, orphan: Orphan) -> None:
    events = ctx.aws.client("events")
    name = orphan.resource.split("/", 1)[1]
    targets = [t["Id"] for t in events.list_targets_by_rule(Rule=name).get("Targets", [])]
    if targets:
        events.remove_targets(Rule=name, Ids=targets)
    events.delete_rule(Name=name)


def _ec2(ctx: Context, orphan: Orphan) -> None:
    ctx.aws.client("ec2").delete_flow_logs(FlowLogIds=[orphan.resource.rsplit("/", 1)[1]])


def _route53resolver(ctx: Context, orphan: Orphan) -> None:
    resolver = ctx.aws.client("route53resolver")
    config_id = orphan.resource.rsplit("/", 1)[1]
    filters = [{"Name": "ResolverQueryLogConfigId", "Values": [config_id]}]

    def associations() -> list[dict[str, Any]]:
        answer = resolver.list_resolver_query_log_config_associations(Filters=filters)
        return answer.get("ResolverQueryLogConfigAssociations", [])

    for association in associations():
        resolver.disassociate_resolver_query_log_config(
            ResolverQueryLogConfigId=config_id, ResourceId=association["ResourceId"]
        )
    wait_for(lambda: not associations(), what=f"query logging {config_id} to leave its VPCs", interval=5)
    resolver.delete_resolver_query_log_config(ResolverQueryLogConfigId=config_id)


def _config(ctx: Context, orphan: Orphan) -> None:
    client = ctx.aws.client("config")
    rule_id = orphan.resource.rsplit("/", 1)[1]
    for page in client.get_paginator("describe_config_rules").paginate():
        for rule in page.get("ConfigRules", []):
            if rule.get("ConfigRuleId") == rule_id or rule.get("ConfigRuleArn") == orphan.arn:
                client.delete_config_rule(ConfigRuleName=rule["ConfigRuleName"])
                return


def _cloudtrail(ctx: Context, orphan: Orphan) -> None:
    ctx.aws.client("cloudtrail").delete_trail(Name=orphan.arn)


def _firehose(ctx: Context, orphan: Orphan) -> None:
    ctx.aws.client("firehose").delete_delivery_stream(DeliveryStreamName=orphan.resource.split("/", 1)[1])


def _lambda(ctx: Context, orphan: Orphan) -> None:
    ctx.aws.client("lambda").delete_function(FunctionName=orphan.arn)


def _logs(ctx: Context, orphan: Orphan) -> None:
    ctx.aws.client("logs").delete_log_group(logGroupName=orphan.resource.split(":", 1)[1])


def _iam(ctx: Context, orphan: Orphan) -> None:
    iam = ctx.aws.client("iam")
    name = orphan.resource.rsplit("/", 1)[1]
    for policy in iam.list_role_policies(RoleName=name).get("PolicyNames", []):
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    for attached in iam.list_attached_role_policies(RoleName=name).get("AttachedPolicies", []):
        iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
    iam.delete_role(RoleName=name)


def _s3(ctx: Context, orphan: Orphan) -> None:
    from logpipe.resources.s3_bucket import S3Bucket

    bucket = S3Bucket(orphan.resource)
    observed = bucket.read(ctx)
    if observed is not None and observed.owned:
        bucket.delete(ctx, observed)  # keeps a bucket with objects unless --delete-data


_DELETERS = {
    "events": _events,
    "ec2": _ec2,
    "route53resolver": _route53resolver,
    "config": _config,
    "cloudtrail": _cloudtrail,
    "firehose": _firehose,
    "lambda": _lambda,
    "logs": _logs,
    "iam": _iam,
    "s3": _s3,
}


def delete_all(ctx: Context, orphans: list[Orphan]) -> list[dict[str, str]]:
    """Delete in dependency order; one failure is reported and does not stop the rest."""
    results = []
    for orphan in orphans:
        entry = orphan.as_dict()
        try:
            delete(ctx, orphan)
            entry["result"] = "deleted"
        except (ClientError, LogpipeError) as exc:
            entry["result"] = "failed"
            entry["error"] = _message(exc)
        results.append(entry)
        ctx.progress(f"{entry['result']} leftover {orphan.arn}" + (f": {entry['error']}" if "error" in entry else ""))
    return results


def _message(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        from logpipe.aws import error_message

        return error_message(exc)
    return str(exc)
