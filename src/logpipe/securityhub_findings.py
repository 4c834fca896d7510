"""``logpipe securityhub sample-findings``: ask GuardDuty for sample findings.

GuardDuty marks sample findings as such and sends them, like real ones, to Security Hub,
which imports them and emits the ``Security Hub Findings - Imported`` events logpipe's
GuardDuty rule forwards: a way to see the pipeline work end to end without an incident.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from logpipe.aws import error_code, error_message
from logpipe.engine.context import Context
from logpipe.errors import UsageError
from logpipe.resources.guardduty import find_detector


def create_sample_findings(ctx: Context, finding_types: list[str]) -> dict[str, Any]:
    """Request sample findings of ``finding_types`` (all types when empty); what was asked for."""
    detector_id = find_detector(ctx)
    if detector_id is None:
        raise UsageError(
            f"GuardDuty has no detector in {ctx.region}: run `logpipe up securityhub` first "
            "(it creates one when the region has none)"
        )
    types = list(dict.fromkeys(finding_types))
    try:
        # Without FindingTypes (AWS: "If 'NULL' is specified for findingTypes") GuardDuty makes one
        # sample of every supported type; an explicit empty list is not what the API documents.
        args: dict[str, Any] = {"FindingTypes": types} if types else {}
        ctx.aws.client("guardduty").create_sample_findings(DetectorId=detector_id, **args)
    except ClientError as exc:
        if error_code(exc) == "BadRequestException" and types:
            raise UsageError(
                f"GuardDuty refused the finding types {', '.join(types)} ({error_message(exc)}); "
                "use types as GuardDuty names them, e.g. Recon:EC2/PortProbeUnprotectedPort"
            ) from None
        raise
    return {
        "detector_id": detector_id,
        "region": ctx.region,
        "finding_types": types or "all",
        "note": (
            "GuardDuty sends new findings to Security Hub within about five minutes; "
            "they reach OpenSearch after the Firehose buffer interval"
        ),
    }
