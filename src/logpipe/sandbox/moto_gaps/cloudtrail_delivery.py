"""CloudTrail gaps: what AWS checks when a trail is created or its delivery is changed.

moto creates any trail whose bucket exists. AWS, on CreateTrail and UpdateTrail:

- refuses a second trail of the same name in the region (``TrailAlreadyExistsException``);
- checks the bucket policy lets ``cloudtrail.amazonaws.com`` read the bucket ACL and put
  ``[prefix/]AWSLogs/<account>/...`` objects with ``bucket-owner-full-control``, for this
  trail (``aws:SourceArn``) - else ``InsufficientS3BucketPolicyException``;
- for CloudWatch Logs delivery, wants the log group ARN *and* the role ARN; the group ARN
  in the form ``arn:...:log-group:NAME:*`` naming an existing group of this account and
  region (else ``InvalidCloudWatchLogsLogGroupArnException``); a role CloudTrail may
  assume whose policies let it ``logs:CreateLogStream`` and ``logs:PutLogEvents`` on the
  trail's stream ``<account>_CloudTrail_<region>`` (else
  ``InvalidCloudWatchLogsRoleArnException``).

Policies are evaluated the way IAM does for these few requests: an explicit Deny wins,
wildcards in actions and resources, the common condition operators (with ``IfExists``);
a condition on a key the request does not carry fails, a negated one holds.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from moto.cloudtrail.models import CloudTrailBackend
from moto.core.exceptions import JsonRESTError
from moto.utilities.utils import get_partition

from ._patching import patch

SERVICE = "cloudtrail.amazonaws.com"


class _CloudTrailError(JsonRESTError):
    code = 400

    def __init__(self, error: str, message: str) -> None:
        super().__init__(error, message)


# policy evaluation ------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _matches(patterns: Any, value: str, *, case_sensitive: bool = True) -> bool:
    for pattern in _as_list(patterns):
        if case_sensitive and fnmatch.fnmatchcase(value, str(pattern)):
            return True
        if not case_sensitive and fnmatch.fnmatchcase(value.lower(), str(pattern).lower()):
            return True
    return False


def _condition_holds(operator: str, key: str, expected: Any, context: dict[str, str]) -> bool:
    op = operator
    if_exists = op.endswith("IfExists")
    op = op.removesuffix("IfExists")
    actual = next((v for k, v in context.items() if k.lower() == key.lower()), None)
    negated = op.startswith(("StringNot", "ArnNot")) or op == "Null"
    if actual is None:
        if op == "Null":
            return str(_as_list(expected)[0]).lower() == "true"
        return if_exists or negated
    values = [str(v) for v in _as_list(expected)]
    if op == "Null":
        return str(values[0]).lower() == "false"
    if op in ("StringEquals", "ArnEquals"):
        return actual in values
    if op == "StringEqualsIgnoreCase":
        return actual.lower() in (v.lower() for v in values)
    if op in ("StringLike", "ArnLike"):
        return _matches(values, actual)
    if op in ("StringNotEquals", "ArnNotEquals"):
        return actual not in values
    if op == "StringNotEqualsIgnoreCase":
        return actual.lower() not in (v.lower() for v in values)
    if op in ("StringNotLike", "ArnNotLike"):
        return not _matches(values, actual)
    if op == "Bool":
        return actual.lower() in (v.lower() for v in values)
    return False  # an operator these requests cannot satisfy


def _statement_applies(
    statement: dict[str, Any], action: str, resource: str, context: dict[str, str], service: str | None
) -> bool:
    if service is not None:
        principal = statement.get("Principal")
        if principal != "*":
            if not isinstance(principal, dict):
                return False
            if service not in _as_list(principal.get("Service")) and "*" not in _as_list(principal.get("AWS")):
                return False
    if "Action" in statement and not _matches(statement["Action"], action, case_sensitive=False):
        return False
    if "NotAction" in statement and _matches(statement["NotAction"], action, case_sensitive=False):
        return False
    if "Resource" in statement and not _matches(statement["Resource"], resource):
        return False
    if "NotResource" in statement and _matches(statement["NotResource"], resource):
        return False
    for operator, checks in (statement.get("Condition") or {}).items():
        for key, expected in (checks or {}).items():
            if not _condition_holds(operator, key, expected, context):
                return False
    return True


def allowed(
    documents: list[Any], action: str, resource: str, context: dict[str, str], *, service: str | None = None
) -> bool:
    """Whether the policy documents allow ``action`` on ``resource`` (for ``service`` in resource policies)."""
    allow = False
    for document in documents:
        doc = json.loads(document) if isinstance(document, (str, bytes)) else document
        for statement in _as_list((doc or {}).get("Statement")):
            if not _statement_applies(statement, action, resource, context, service):
                continue
            if statement.get("Effect") == "Deny":
                return False
            if statement.get("Effect") == "Allow":
                allow = True
    return allow


# the checks AWS makes -------------------------------------------------------------------


def _check_bucket_policy(backend: CloudTrailBackend, trail_arn: str, bucket: str, prefix: str | None) -> None:
    from moto.s3.models import s3_backends

    partition = get_partition(backend.region_name)
    try:
        policy = s3_backends[backend.account_id][partition].get_bucket(bucket).policy
    except Exception:
        return  # a missing bucket is moto's own S3BucketDoesNotExistException
    bucket_arn = f"arn:{partition}:s3:::{bucket}"
    folder = f"{prefix.strip('/')}/" if prefix else ""
    key = f"{folder}AWSLogs/{backend.account_id}/CloudTrail/{backend.region_name}/x.json.gz"
    context = {"aws:SourceArn": trail_arn, "aws:SourceAccount": backend.account_id, "aws:SecureTransport": "true"}
    documents = [policy] if policy else []
    can_check_acl = allowed(documents, "s3:GetBucketAcl", bucket_arn, context, service=SERVICE)
    can_write = allowed(
        documents,
        "s3:PutObject",
        f"{bucket_arn}/{key}",
        {**context, "s3:x-amz-acl": "bucket-owner-full-control"},
        service=SERVICE,
    )
    if not (can_check_acl and can_write):
        raise _CloudTrailError(
            "InsufficientS3BucketPolicyException", f"Incorrect S3 bucket policy is detected for bucket: {bucket}"
        )


def _role_documents(role: Any) -> list[Any]:
    documents: list[Any] = list(role.policies.values())
    for managed in role.managed_policies.values():
        for version in managed.versions:
            if getattr(version, "is_default", False):
                documents.append(version.document)
    return documents


def _check_cloudwatch_logs(backend: CloudTrailBackend, group_arn: str | None, role_arn: str | None) -> None:
    if not group_arn and not role_arn:
        return
    if not role_arn:
        raise _CloudTrailError(
            "InvalidCloudWatchLogsRoleArnException", "You must specify a role ARN together with a log group ARN."
        )
    partition = get_partition(backend.region_name)
    head = f"arn:{partition}:logs:{backend.region_name}:{backend.account_id}:log-group:"
    if not group_arn or not group_arn.startswith(head) or not group_arn.endswith(":*"):
        raise _CloudTrailError(
            "InvalidCloudWatchLogsLogGroupArnException", f"CloudWatch Logs log group ARN is not valid: {group_arn}"
        )
    group_name = group_arn[len(head) : -2]
    from moto.logs.models import logs_backends

    if group_name not in logs_backends[backend.account_id][backend.region_name].groups:
        raise _CloudTrailError(
            "InvalidCloudWatchLogsLogGroupArnException", f"CloudWatch Logs log group does not exist: {group_name}"
        )
    from moto.iam.models import iam_backends

    denied = _CloudTrailError(
        "InvalidCloudWatchLogsRoleArnException", "Access denied. Verify in IAM that the role has adequate permissions."
    )
    try:
        role = iam_backends[backend.account_id][partition].get_role_by_arn(role_arn)
    except Exception:
        raise denied from None
    assume_context = {"aws:SourceAccount": backend.account_id}
    if not allowed([role.assume_role_policy_document], "sts:AssumeRole", role_arn, assume_context, service=SERVICE):
        raise denied
    stream = f"{group_arn[:-2]}:log-stream:{backend.account_id}_CloudTrail_{backend.region_name}"
    documents = _role_documents(role)
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        if not allowed(documents, action, stream, {}):
            raise denied


def install() -> None:
    orig_create = CloudTrailBackend.create_trail
    orig_update = CloudTrailBackend.update_trail

    def create_trail(self: CloudTrailBackend, name: str, bucket_name: str, s3_key_prefix: str, *args: Any) -> Any:
        if name in self.trails:
            raise _CloudTrailError(
                "TrailAlreadyExistsException", f"Trail {name} already exists for customer: {self.account_id}"
            )
        # (sns_topic_name, is_global, is_multi_region, log_validation, is_org_trail, group, role, kms, tags)
        group_arn, role_arn = args[5], args[6]
        partition = get_partition(self.region_name)
        trail_arn = f"arn:{partition}:cloudtrail:{self.region_name}:{self.account_id}:trail/{name}"
        _check_cloudwatch_logs(self, group_arn, role_arn)
        _check_bucket_policy(self, trail_arn, bucket_name, s3_key_prefix)
        return orig_create(self, name, bucket_name, s3_key_prefix, *args)

    def update_trail(self: CloudTrailBackend, name: str, **changes: Any) -> Any:
        trail = self.get_trail(name)
        bucket = changes.get("s3_bucket_name") or trail.bucket_name
        prefix = changes["s3_key_prefix"] if changes.get("s3_key_prefix") is not None else trail.s3_key_prefix
        group_arn = (
            changes["cw_log_group_arn"] if changes.get("cw_log_group_arn") is not None else trail.cw_log_group_arn
        )
        role_arn = changes["cw_role_arn"] if changes.get("cw_role_arn") is not None else trail.cw_role_arn
        _check_cloudwatch_logs(self, group_arn, role_arn)
        _check_bucket_policy(self, trail.arn, bucket, prefix)
        return orig_update(self, name=name, **changes)

    patch(CloudTrailBackend, "create_trail", create_trail)
    patch(CloudTrailBackend, "update_trail", update_trail)
