"""IAM role: trust policy, one inline policy named for logpipe, optional managed policies, tags."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from logpipe.aws import error_code
from logpipe.engine.context import Context
from logpipe.engine.model import Observed, Resource
from logpipe.resources.common import desired_tags_view, is_not_found, json_doc, tag_dict, tag_list

INLINE_POLICY_NAME = "logpipe"
_DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")


def account_roles(ctx: Context) -> dict[str, dict[str, Any]] | None:
    """Every role of the account by name, as ``GetAccountAuthorizationDetails`` describes it.

    One IAM call (a page per 1000 roles) holds each role's trust policy, inline and attached
    policies and tags, where reading them role by role takes three calls per role. None when
    the caller may not make that call: roles are then read one by one.
    """
    try:
        details = ctx.aws.pages_once(
            "iam",
            "get_account_authorization_details",
            "RoleDetailList",
            Filter=["Role"],
            PaginationConfig={"PageSize": 1000},
        )
    except ClientError as exc:
        if error_code(exc) in _DENIED:
            return None
        raise
    return {role["RoleName"]: role for role in details}


def role_name(role_arn: str) -> str:
    """``arn:aws:iam::123456789012:role/path/name`` -> ``name``."""
    return role_arn.rsplit("/", 1)[-1]


def service_trust(service: str, *, source_account: str | None = None, external_id: str | None = None) -> dict[str, Any]:
    """Trust policy letting one AWS service assume the role, optionally only for this account.

    Services differ in how they prove the account: most set ``aws:SourceAccount``; Firehose
    documents ``sts:ExternalId`` = the account id instead, so its roles use ``external_id``.
    """
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if source_account:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    if external_id:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return {"Version": "2012-10-17", "Statement": [statement]}


def policy_document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions: list[str] | str, resources: list[Any] | Any) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Action": actions if isinstance(actions, list) else [actions],
        "Resource": resources if isinstance(resources, list) else [resources],
    }


class IamRole(Resource):
    kind = "iam-role"
    reads_alone = True

    def __init__(
        self,
        name: str,
        *,
        trust: dict[str, Any],
        inline_policy: dict[str, Any] | None = None,
        managed_policies: tuple[str, ...] = (),
        description: str = "",
    ) -> None:
        super().__init__(name)
        self.trust = trust
        self.inline_policy = inline_policy
        self.managed_policies = managed_policies
        self.description = description or "Created by logpipe"

    def desired(self, ctx: Context) -> dict[str, Any]:
        return {
            "trust": ctx.resolve(self.trust),
            "inline_policy": ctx.resolve(self.inline_policy),
            "managed_policies": list(self.managed_policies),
            "tags": ctx.tags,
        }

    def read(self, ctx: Context) -> Observed | None:
        known = account_roles(ctx)
        detail = known.get(self.name) if known is not None else None
        if detail is None:
            # Not in the account's listing (missing, or made too recently to be listed): ask for it.
            return self._read_alone(ctx)
        inline = next(
            (p["PolicyDocument"] for p in detail.get("RolePolicyList") or [] if p["PolicyName"] == INLINE_POLICY_NAME),
            None,
        )
        return self._observed(
            ctx,
            detail,
            tags=tag_dict(detail.get("Tags")),
            inline=json_doc(inline),
            attached=detail.get("AttachedManagedPolicies") or [],
        )

    def _read_alone(self, ctx: Context) -> Observed | None:
        iam = ctx.aws.client("iam")
        try:
            role = iam.get_role(RoleName=self.name)["Role"]
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise
        tags = tag_dict(role.get("Tags"))
        if not tags:
            tags = tag_dict(iam.list_role_tags(RoleName=self.name).get("Tags"))
        try:
            inline = json_doc(iam.get_role_policy(RoleName=self.name, PolicyName=INLINE_POLICY_NAME)["PolicyDocument"])
        except ClientError as exc:
            if not is_not_found(exc):
                raise
            inline = None
        attached = iam.list_attached_role_policies(RoleName=self.name).get("AttachedPolicies", [])
        return self._observed(ctx, role, tags=tags, inline=inline, attached=attached)

    def _observed(
        self, ctx: Context, role: dict[str, Any], *, tags: dict[str, str], inline: Any, attached: list[dict[str, Any]]
    ) -> Observed:
        return Observed(
            {
                "trust": json_doc(role["AssumeRolePolicyDocument"]),
                "inline_policy": inline,
                "managed_policies": [p["PolicyArn"] for p in attached],
                "tags": desired_tags_view(tags, ctx.tags),
            },
            {"arn": role["Arn"], "name": self.name},
            owned=ctx.owns(tags),
        )

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        iam = ctx.aws.client("iam")
        role = iam.create_role(
            RoleName=self.name,
            AssumeRolePolicyDocument=json.dumps(desired["trust"]),
            Description=self.description,
            Tags=tag_list(desired["tags"]),
        )["Role"]
        if desired["inline_policy"] is not None:
            iam.put_role_policy(
                RoleName=self.name, PolicyName=INLINE_POLICY_NAME, PolicyDocument=json.dumps(desired["inline_policy"])
            )
        for arn in desired["managed_policies"]:
            iam.attach_role_policy(RoleName=self.name, PolicyArn=arn)
        return {"arn": role["Arn"], "name": self.name}

    def update(self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict) -> None:
        iam = ctx.aws.client("iam")
        if "trust" in changes:
            iam.update_assume_role_policy(RoleName=self.name, PolicyDocument=json.dumps(desired["trust"]))
        if "inline_policy" in changes:
            if desired["inline_policy"] is None:
                iam.delete_role_policy(RoleName=self.name, PolicyName=INLINE_POLICY_NAME)
            else:
                iam.put_role_policy(
                    RoleName=self.name,
                    PolicyName=INLINE_POLICY_NAME,
                    PolicyDocument=json.dumps(desired["inline_policy"]),
                )
        if "managed_policies" in changes:
            have = set(observed.props.get("managed_policies") or [])
            want = set(desired["managed_policies"])
            for arn in sorted(want - have):
                iam.attach_role_policy(RoleName=self.name, PolicyArn=arn)
            for arn in sorted(have - want):
                iam.detach_role_policy(RoleName=self.name, PolicyArn=arn)
        if "tags" in changes:
            iam.tag_role(RoleName=self.name, Tags=tag_list(desired["tags"]))
        return None

    def delete(self, ctx: Context, observed: Observed) -> None:
        iam = ctx.aws.client("iam")
        for name in iam.list_role_policies(RoleName=self.name).get("PolicyNames", []):
            iam.delete_role_policy(RoleName=self.name, PolicyName=name)
        for attached in iam.list_attached_role_policies(RoleName=self.name).get("AttachedPolicies", []):
            iam.detach_role_policy(RoleName=self.name, PolicyArn=attached["PolicyArn"])
        try:
            iam.delete_role(RoleName=self.name)
        except ClientError as exc:
            if not is_not_found(exc):
                raise
