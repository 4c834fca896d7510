"""GuardDuty: the region's detector (one per account and region).

``shared``: created (tagged) when the region has none; an existing detector without
logpipe's tags is used as it is and never deleted. Its finding publishing frequency is the
one setting logpipe converges on any detector, because it decides how soon updated findings
reach Security Hub and therefore OpenSearch; ``plan`` shows the change first.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from logpipe.aws import error_code
from logpipe.engine.context import Context
from logpipe.engine.model import Observed, Resource
from logpipe.resources.common import desired_tags_view


def detector_arn(ctx: Context, detector_id: str) -> str:
    return ctx.arn("guardduty", f"detector/{detector_id}")


def find_detector(ctx: Context) -> str | None:
    """The region's detector id (asked once per run until it writes), or None (a region holds at most one)."""
    ids = ctx.aws.pages_once("guardduty", "list_detectors", "DetectorIds")
    return ids[0] if ids else None


class GuardDutyDetector(Resource):
    kind = "guardduty-detector"
    reads_alone = True
    policy = "shared"

    def __init__(self, name: str = "default", *, finding_publishing_frequency: str = "FIFTEEN_MINUTES") -> None:
        super().__init__(name)
        self.finding_publishing_frequency = finding_publishing_frequency

    def describe(self) -> str:
        return "Amazon GuardDuty detector"

    def desired(self, ctx: Context) -> dict[str, Any]:
        return {
            "finding_publishing_frequency": self.finding_publishing_frequency,
            "enabled": True,
            "tags": ctx.tags,
        }

    def read(self, ctx: Context) -> Observed | None:
        detector_id = find_detector(ctx)
        if detector_id is None:
            return None
        detector = ctx.aws.client("guardduty").get_detector(DetectorId=detector_id)
        tags = detector.get("Tags") or {}
        owned = ctx.owns(tags)
        enabled = detector.get("Status") == "ENABLED"
        notes = [] if owned else [f"detector {detector_id} was not created by logpipe; used as it is"]
        if not enabled:
            notes.append("suspended")
        return Observed(
            {
                "finding_publishing_frequency": detector.get("FindingPublishingFrequency"),
                "enabled": enabled,
                "tags": desired_tags_view(tags, ctx.tags),
            },
            {"id": detector_id, "arn": detector_arn(ctx, detector_id)},
            owned=owned,
            note="; ".join(notes),
        )

    def shared_diff(self, observed: Observed, desired: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
        have = observed.props.get("finding_publishing_frequency")
        want = desired["finding_publishing_frequency"]
        return {} if have == want else {"finding_publishing_frequency": (have, want)}

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        detector_id = ctx.aws.client("guardduty").create_detector(
            Enable=True,
            FindingPublishingFrequency=desired["finding_publishing_frequency"],
            Tags=dict(desired["tags"]),
        )["DetectorId"]
        return {"id": detector_id, "arn": detector_arn(ctx, detector_id)}

    def update(self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict) -> None:
        guardduty = ctx.aws.client("guardduty")
        detector_id = observed.outputs["id"]
        args: dict[str, Any] = {}
        if "finding_publishing_frequency" in changes:
            args["FindingPublishingFrequency"] = desired["finding_publishing_frequency"]
        if "enabled" in changes:  # only reached for logpipe's own detector (shared_diff omits it)
            args["Enable"] = True
        if args:
            guardduty.update_detector(DetectorId=detector_id, **args)
        if "tags" in changes:
            guardduty.tag_resource(ResourceArn=observed.outputs["arn"], Tags=dict(desired["tags"]))
        return None

    def delete(self, ctx: Context, observed: Observed) -> None:
        try:
            ctx.aws.client("guardduty").delete_detector(DetectorId=observed.outputs["id"])
        except ClientError as exc:
            # GuardDuty reports an unknown detector as a BadRequestException.
            if error_code(exc) != "BadRequestException":
                raise
