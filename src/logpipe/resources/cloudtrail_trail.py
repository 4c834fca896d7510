"""CloudTrail trail: S3 + CloudWatch Logs delivery, advanced event selectors, logging on, tags.

Whether the trail is logging is part of its desired state: a stopped trail is drift that
``up`` repairs with ``StartLogging``. The trail is managed from its home region only (AWS
refuses changes elsewhere), so a multi-region trail of that name homed in another region
is reported as not logpipe's here.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from logpipe.aws import error_code
from logpipe.engine.context import Context
from logpipe.engine.model import Observed, Ref, Resource
from logpipe.resources.common import desired_tags_view, is_not_found, tag_dict, tag_list
from logpipe.resources.iam_role import role_name
from logpipe.resources.ownership import tags_of
from logpipe.resources.waiting import retry_while

_NOT_FOUND = ("TrailNotFoundException",)
# Settings UpdateTrail converges; the other props have their own calls.
_TRAIL_SETTINGS = (
    "s3_bucket",
    "s3_key_prefix",
    "multi_region",
    "global_service_events",
    "log_file_validation",
    "cloudwatch_logs_log_group_arn",
    "cloudwatch_logs_role_arn",
)
_OPERATORS = ("Equals", "StartsWith", "EndsWith", "NotEquals", "NotStartsWith", "NotEndsWith")


def _delivery_not_ready(exc: ClientError) -> bool:
    """CloudTrail checks the bucket policy and assumes the CloudWatch Logs role when the trail is
    created or changed; a role or policy written seconds earlier may not have propagated yet.

    AWS answers InvalidCloudWatchLogsRoleArnException ("Access denied. Check the trust
    relationships for your role.") while the role is new, InvalidCloudWatchLogsLogGroupArnException
    ("Access denied. Check the permissions for your role.") while its policy is, and
    InsufficientS3BucketPolicyException while the bucket policy is. A log group ARN that is
    simply wrong is reported without "Access denied" and is not retried.
    """
    code = error_code(exc)
    if code == "InvalidCloudWatchLogsLogGroupArnException":
        return "access denied" in str(exc).lower()
    return code in ("InsufficientS3BucketPolicyException", "InvalidCloudWatchLogsRoleArnException")


def _waiting_for_delivery(desired: dict[str, Any], operation: str) -> str:
    role = role_name(desired["cloudwatch_logs_role_arn"])
    return (
        f"IAM role {role} and the bucket policy of {desired['s3_bucket']} to propagate "
        f"(CloudTrail {operation}: access denied)"
    )


def canonical_selectors(selectors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Advanced event selectors in one comparable form: empty operators dropped, fields and values sorted.

    AWS may echo selectors with every operator present (empty) or in another order; neither
    changes what the trail logs.
    """
    out = []
    for selector in selectors:
        fields = []
        for field in selector.get("FieldSelectors", []):
            entry: dict[str, Any] = {"Field": field["Field"]}
            for operator in _OPERATORS:
                if field.get(operator):
                    entry[operator] = sorted(field[operator])
            fields.append(entry)
        canonical: dict[str, Any] = {"FieldSelectors": sorted(fields, key=lambda f: f["Field"])}
        if selector.get("Name"):
            canonical["Name"] = selector["Name"]
        out.append(canonical)
    return sorted(out, key=lambda s: (s.get("Name", ""), repr(s["FieldSelectors"])))


class CloudTrailTrail(Resource):
    kind = "cloudtrail-trail"
    reads_alone = True

    def __init__(
        self,
        name: str,
        *,
        bucket: Ref | str,
        log_group_arn: Ref | str,
        cloudwatch_logs_role_arn: Ref | str,
        advanced_event_selectors: list[dict[str, Any]],
        multi_region: bool = True,
        log_file_validation: bool = True,
        depends_on: tuple[Resource, ...] = (),
    ) -> None:
        super().__init__(name, depends_on=depends_on)
        self.bucket = bucket
        self.log_group_arn = log_group_arn
        self.cloudwatch_logs_role_arn = cloudwatch_logs_role_arn
        self.advanced_event_selectors = advanced_event_selectors
        self.multi_region = multi_region
        self.log_file_validation = log_file_validation

    def arn(self, ctx: Context) -> str:
        return ctx.arn("cloudtrail", f"trail/{self.name}")

    def describe(self) -> str:
        return f"CloudTrail trail {self.name}"

    def desired(self, ctx: Context) -> dict[str, Any]:
        return {
            "s3_bucket": ctx.resolve(self.bucket),
            "s3_key_prefix": None,
            "multi_region": self.multi_region,
            # A multi-region trail must include global service events (IAM, STS, CloudFront).
            "global_service_events": True,
            "log_file_validation": self.log_file_validation,
            "cloudwatch_logs_log_group_arn": ctx.resolve(self.log_group_arn),
            "cloudwatch_logs_role_arn": ctx.resolve(self.cloudwatch_logs_role_arn),
            "event_selectors": canonical_selectors(ctx.resolve(self.advanced_event_selectors)),
            "logging": True,
            "tags": ctx.tags,
        }

    def read(self, ctx: Context) -> Observed | None:
        client = ctx.aws.client("cloudtrail")
        try:
            trails = client.describe_trails(trailNameList=[self.name], includeShadowTrails=True)["trailList"]
        except ClientError as exc:
            if is_not_found(exc, *_NOT_FOUND):
                return None
            raise
        trail = next((t for t in trails if t.get("Name") == self.name), None)
        if trail is None:
            return None
        arn = trail["TrailARN"]
        home = trail.get("HomeRegion") or ctx.region
        if home != ctx.region:
            return Observed(
                {},
                {"arn": arn, "name": self.name},
                owned=False,
                note=f"a multi-region trail of this name has its home in {home}; it can only be managed there",
            )
        tags = tags_of(ctx, arn, ctx.tags, lambda: _trail_tags(client, arn))
        status = ctx.aws.read_once("cloudtrail", "get_trail_status", Name=arn)
        selectors = client.get_event_selectors(TrailName=arn)
        if selectors.get("AdvancedEventSelectors"):
            observed_selectors: Any = canonical_selectors(selectors["AdvancedEventSelectors"])
        else:
            # Basic selectors (the default for a new trail) never equal the advanced ones wanted.
            observed_selectors = {"EventSelectors": selectors.get("EventSelectors", [])}
        return Observed(
            {
                "s3_bucket": trail.get("S3BucketName"),
                "s3_key_prefix": trail.get("S3KeyPrefix") or None,
                "multi_region": bool(trail.get("IsMultiRegionTrail")),
                "global_service_events": bool(trail.get("IncludeGlobalServiceEvents")),
                "log_file_validation": bool(trail.get("LogFileValidationEnabled")),
                "cloudwatch_logs_log_group_arn": trail.get("CloudWatchLogsLogGroupArn") or None,
                "cloudwatch_logs_role_arn": trail.get("CloudWatchLogsRoleArn") or None,
                "event_selectors": observed_selectors,
                "logging": bool(status.get("IsLogging")),
                "tags": desired_tags_view(tags, ctx.tags),
            },
            {"arn": arn, "name": self.name},
            owned=ctx.owns(tags),
            note="" if status.get("IsLogging") else "logging is stopped",
        )

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        client = ctx.aws.client("cloudtrail")
        created = retry_while(
            ctx,
            lambda: client.create_trail(
                Name=self.name,
                S3BucketName=desired["s3_bucket"],
                IncludeGlobalServiceEvents=desired["global_service_events"],
                IsMultiRegionTrail=desired["multi_region"],
                EnableLogFileValidation=desired["log_file_validation"],
                CloudWatchLogsLogGroupArn=desired["cloudwatch_logs_log_group_arn"],
                CloudWatchLogsRoleArn=desired["cloudwatch_logs_role_arn"],
                TagsList=tag_list(desired["tags"]),
            ),
            _delivery_not_ready,
            what=_waiting_for_delivery(desired, "CreateTrail"),
        )
        arn = created["TrailARN"]
        client.put_event_selectors(TrailName=arn, AdvancedEventSelectors=desired["event_selectors"])
        client.start_logging(Name=arn)
        return {"arn": arn, "name": self.name}

    def update(self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict) -> None:
        client = ctx.aws.client("cloudtrail")
        arn = observed.outputs["arn"]
        if any(key in changes for key in _TRAIL_SETTINGS):
            settings: dict[str, Any] = {
                "Name": arn,
                "S3BucketName": desired["s3_bucket"],
                "IncludeGlobalServiceEvents": desired["global_service_events"],
                "IsMultiRegionTrail": desired["multi_region"],
                "EnableLogFileValidation": desired["log_file_validation"],
                "CloudWatchLogsLogGroupArn": desired["cloudwatch_logs_log_group_arn"],
                "CloudWatchLogsRoleArn": desired["cloudwatch_logs_role_arn"],
            }
            if "s3_key_prefix" in changes:
                # An empty prefix removes one set by hand: the bucket policy covers AWSLogs/ at the root.
                settings["S3KeyPrefix"] = desired["s3_key_prefix"] or ""
            retry_while(
                ctx,
                lambda: client.update_trail(**settings),
                _delivery_not_ready,
                what=_waiting_for_delivery(desired, "UpdateTrail"),
            )
        if "event_selectors" in changes:
            client.put_event_selectors(TrailName=arn, AdvancedEventSelectors=desired["event_selectors"])
        if "tags" in changes:
            client.add_tags(ResourceId=arn, TagsList=tag_list(desired["tags"]))
        if "logging" in changes:
            if desired["logging"]:
                client.start_logging(Name=arn)
            else:
                client.stop_logging(Name=arn)
        return None

    def delete(self, ctx: Context, observed: Observed) -> None:
        try:
            ctx.aws.client("cloudtrail").delete_trail(Name=observed.outputs["arn"])
        except ClientError as exc:
            if not is_not_found(exc, *_NOT_FOUND):
                raise


def _trail_tags(client: Any, arn: str) -> dict[str, str]:
    for entry in client.list_tags(ResourceIdList=[arn]).get("ResourceTagList", []):
        if entry.get("ResourceId") == arn:
            return tag_dict(entry.get("TagsList"))
    return {}
