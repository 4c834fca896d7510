"""S3 bucket: tags, bucket policy, public access blocked, default encryption."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from logpipe.aws import error_code
from logpipe.engine.context import Context
from logpipe.engine.model import Observed, Policy, Resource
from logpipe.errors import LogpipeError
from logpipe.resources.common import desired_tags_view, is_not_found, json_doc, tag_dict, tag_list
from logpipe.resources.ownership import tags_of

_LEGACY_LOCATIONS = {"EU": "eu-west-1"}

_BLOCK_ALL = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


class S3Bucket(Resource):
    """A bucket logpipe owns (policy ``owned``/``shared``), or one it only checks (``external``).

    ``policy_document`` may hold Refs; ``None`` means the bucket carries no bucket policy.
    A non-empty bucket is only deleted with ``ctx.delete_data`` (teardown --delete-data): its
    objects are logs or failed documents somebody may still need.
    """

    kind = "s3-bucket"
    reads_alone = True

    def __init__(
        self,
        name: str,
        *,
        policy_document: dict[str, Any] | None = None,
        policy: Policy | None = None,
    ) -> None:
        super().__init__(name, policy=policy)
        self.policy_document = policy_document

    def desired(self, ctx: Context) -> dict[str, Any]:
        return {
            "tags": ctx.tags,
            "bucket_policy": ctx.resolve(self.policy_document),
            "public_access_block": _BLOCK_ALL,
        }

    def read(self, ctx: Context) -> Observed | None:
        s3 = ctx.aws.client("s3")
        try:
            # GetBucketLocation: null for us-east-1, and the legacy "EU" for eu-west-1.
            location = s3.get_bucket_location(Bucket=self.name).get("LocationConstraint") or "us-east-1"
            location = _LEGACY_LOCATIONS.get(location, location)
        except ClientError as exc:
            if is_not_found(exc):
                return None
            if error_code(exc) in ("AccessDenied", "AllBucketsAreOwnedByOthers", "403"):
                return Observed({}, {"name": self.name}, owned=False, note="bucket name is taken by another account")
            raise
        tags = tags_of(ctx, f"arn:{ctx.partition}:s3:::{self.name}", ctx.tags, lambda: _current_tags(s3, self.name))
        try:
            bucket_policy = json_doc(s3.get_bucket_policy(Bucket=self.name)["Policy"])
        except ClientError as exc:
            if error_code(exc) != "NoSuchBucketPolicy":
                raise
            bucket_policy = None
        try:
            block = s3.get_public_access_block(Bucket=self.name)["PublicAccessBlockConfiguration"]
        except ClientError as exc:
            if error_code(exc) != "NoSuchPublicAccessBlockConfiguration":
                raise
            block = {}
        owned = ctx.owns(tags)
        note = "" if location == ctx.region else f"in region {location}"
        return Observed(
            {"tags": desired_tags_view(tags, ctx.tags), "bucket_policy": bucket_policy, "public_access_block": block},
            {"name": self.name, "arn": f"arn:{ctx.partition}:s3:::{self.name}", "region": location},
            owned=owned,
            note=note,
        )

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        s3 = ctx.aws.client("s3")
        # Tagged as it is made: a run that dies right after CreateBucket must not leave a bucket
        # under logpipe's name that logpipe cannot recognise as its own.
        configuration: dict[str, Any] = {"Tags": tag_list(desired["tags"])}
        if ctx.region != "us-east-1":
            configuration["LocationConstraint"] = ctx.region
        args: dict[str, Any] = {"Bucket": self.name, "CreateBucketConfiguration": configuration}
        try:
            s3.create_bucket(**args)
        except ClientError as exc:
            if error_code(exc) == "BucketAlreadyExists":
                raise LogpipeError(
                    f"S3 bucket name {self.name} is taken by another account; set another name"
                ) from None
            raise
        s3.put_public_access_block(Bucket=self.name, PublicAccessBlockConfiguration=_BLOCK_ALL)
        s3.put_bucket_encryption(
            Bucket=self.name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        if desired["bucket_policy"] is not None:
            s3.put_bucket_policy(Bucket=self.name, Policy=_dumps(desired["bucket_policy"]))
        return {"name": self.name, "arn": f"arn:{ctx.partition}:s3:::{self.name}", "region": ctx.region}

    def update(self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict) -> None:
        s3 = ctx.aws.client("s3")
        if "public_access_block" in changes:
            s3.put_public_access_block(Bucket=self.name, PublicAccessBlockConfiguration=_BLOCK_ALL)
        if "tags" in changes:
            current = _current_tags(s3, self.name)
            s3.put_bucket_tagging(Bucket=self.name, Tagging={"TagSet": tag_list({**current, **desired["tags"]})})
        if "bucket_policy" in changes:
            if desired["bucket_policy"] is None:
                s3.delete_bucket_policy(Bucket=self.name)
            else:
                s3.put_bucket_policy(Bucket=self.name, Policy=_dumps(desired["bucket_policy"]))
        return None

    def delete(self, ctx: Context, observed: Observed) -> None:
        s3 = ctx.aws.client("s3")
        keys = _all_object_versions(s3, self.name)
        if keys and not ctx.delete_data:
            raise LogpipeError(
                f"bucket {self.name} still holds {len(keys)} object(s); kept. "
                "Pass --delete-data to delete them with the bucket"
            )
        for start in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=self.name, Delete={"Objects": keys[start : start + 1000], "Quiet": True})
        s3.delete_bucket(Bucket=self.name)


def _dumps(doc: dict) -> str:
    import json

    return json.dumps(doc, separators=(",", ":"), sort_keys=True)


def _current_tags(s3: Any, bucket: str) -> dict[str, str]:
    try:
        return tag_dict(s3.get_bucket_tagging(Bucket=bucket)["TagSet"])
    except ClientError as exc:
        if error_code(exc) == "NoSuchTagSet":
            return {}
        raise


def _all_object_versions(s3: Any, bucket: str) -> list[dict[str, str]]:
    keys: list[dict[str, str]] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
            keys.append({"Key": entry["Key"], "VersionId": entry["VersionId"]})
    return keys
