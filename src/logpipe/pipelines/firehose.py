"""The Firehose → OpenSearch building block the dns, waf, flowlog and securityhub pipelines share.

One call declares a Direct PUT stream into the configured domain, the IAM role Firehose uses
(scoped to that domain, the stream's prefix in the backup bucket, the transform function and
the stream's own log streams), the error log group, and the shared domain/bucket declarations.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from logpipe.config import FirehoseSettings
from logpipe.engine.context import Context
from logpipe.engine.model import Ref, Resource
from logpipe.pipelines import shared
from logpipe.pipelines.base import BucketFailures, ErrorSource, LogGroupErrors, Probe
from logpipe.resources.firehose_stream import (
    BACKUP_LOG_STREAM,
    DESTINATION_LOG_STREAM,
    LOG_DELIVERY_TAG,
    FirehoseStream,
)
from logpipe.resources.iam_role import IamRole, allow, policy_document, service_trust
from logpipe.resources.lambda_function import LambdaFunction
from logpipe.resources.log_group import LogGroup
from logpipe.resources.log_stream import LogStream
from logpipe.resources.opensearch_domain import OpenSearchDomainRef

FIREHOSE_LOG_RETENTION_DAYS = 30
_ROLE_NAME_MAX = 64


@dataclass
class FirehoseParts:
    stream: FirehoseStream  # outputs: "arn", "name"
    role: IamRole  # Firehose's role; outputs: "arn", "name"
    resources: list[Resource]  # everything to declare (role, stream, error log group, backup bucket, domain ref, ...)


def index_pattern(index: str, settings: FirehoseSettings) -> str:
    """The pattern matching every index a stream writes: Firehose appends ``-<period>`` when it
    rotates; without rotation there is one index of exactly that name."""
    return index if settings.index_rotation == "NoRotation" else f"{index}-*"


def firehose_role_name(stream_name: str) -> str:
    """The IAM role a stream's Firehose uses (what the OpenSearch side maps to a writer role)."""
    name = f"{stream_name}-firehose"
    if len(name) <= _ROLE_NAME_MAX:
        return name
    # Keep long stream names apart after shortening.
    digest = hashlib.sha256(stream_name.encode()).hexdigest()[:8]
    return f"{stream_name[: _ROLE_NAME_MAX - len('-firehose') - 9]}-{digest}-firehose"


def firehose_log_group_name(stream_name: str) -> str:
    """Where Firehose reports delivery errors (the console's naming)."""
    return f"/aws/kinesisfirehose/{stream_name}"


def backup_prefix(stream_name: str) -> str:
    """Each stream's failed documents under their own prefix of the shared backup bucket."""
    return f"{stream_name}/"


def firehose_to_opensearch(
    ctx: Context,
    *,
    stream_name: str,
    index: str,
    settings: FirehoseSettings,
    transform: LambdaFunction | None = None,
    vended_logs: bool = False,
) -> FirehoseParts:
    """Declare a Direct PUT stream into the domain's ``index`` and everything it needs.

    ``vended_logs``: AWS itself delivers into the stream through its log-delivery service-linked
    role (VPC flow logs, Resolver query logs), which needs the tag ``LogDeliveryEnabled=true``.
    """
    domain_ref = shared.domain(ctx)
    bucket = shared.backup_bucket(ctx)
    prefix = backup_prefix(stream_name)
    statements = [
        *domain_statements(domain_ref, index),
        allow(["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"], Ref(bucket, "arn")),
        allow(
            ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
            Ref(bucket, "arn", "{}/" + prefix.replace("{", "{{").replace("}", "}}") + "*"),
        ),
    ]
    resources: list[Resource] = [domain_ref, bucket]
    log_streams: tuple[Resource, ...] = ()
    log_group: LogGroup | None = None
    if settings.error_logging:
        log_group = LogGroup(firehose_log_group_name(stream_name), retention_days=FIREHOSE_LOG_RETENTION_DAYS)
        names = (DESTINATION_LOG_STREAM, BACKUP_LOG_STREAM)
        log_streams = tuple(LogStream(log_group, name) for name in names)
        statements.append(allow("logs:PutLogEvents", [f"{log_group.arn(ctx)}:log-stream:{name}" for name in names]))
        resources += [log_group, *log_streams]
    if transform is not None:
        statements.append(allow(["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"], Ref(transform, "arn")))
        resources.append(transform)
    role = IamRole(
        firehose_role_name(stream_name),
        trust=service_trust("firehose.amazonaws.com", external_id=ctx.account_id),
        inline_policy=policy_document(*statements),
        description=f"logpipe: Firehose stream {stream_name} delivering to OpenSearch",
    )
    stream = FirehoseStream(
        stream_name,
        role_arn=Ref(role, "arn"),
        domain_arn=Ref(domain_ref, "arn"),
        index=index,
        settings=settings,
        backup_bucket_arn=Ref(bucket, "arn"),
        backup_prefix=prefix,
        log_group=log_group.name if log_group is not None else None,
        processor_arn=Ref(transform, "arn") if transform is not None else None,
        extra_tags=LOG_DELIVERY_TAG if vended_logs else None,
        depends_on=log_streams,
    )
    resources += [role, stream]
    return FirehoseParts(stream=stream, role=role, resources=resources)


def domain_statements(domain_ref: OpenSearchDomainRef, index: str) -> list[dict[str, Any]]:
    """What Firehose needs on the domain (AWS's documented set), reads limited to its own index."""
    arn = Ref(domain_ref, "arn")

    def under(path: str) -> Ref:
        return Ref(domain_ref, "arn", "{}/" + path.replace("{", "{{").replace("}", "}}"))

    return [
        allow(
            ["es:DescribeDomain", "es:DescribeDomains", "es:DescribeDomainConfig", "es:ESHttpPost", "es:ESHttpPut"],
            [arn, Ref(domain_ref, "arn", "{}/*")],
        ),
        allow(
            "es:ESHttpGet",
            [
                under("_all/_settings"),
                under("_cluster/stats"),
                under(f"{index}*/_mapping/*"),
                under("_nodes"),
                under("_nodes/stats"),
                under("_nodes/*/stats"),
                under("_stats"),
                under(f"{index}*/_stats"),
                under(""),
            ],
        ),
    ]


def delivery_errors(
    ctx: Context, stream_name: str, settings: FirehoseSettings, transform: str = ""
) -> tuple[ErrorSource, ...]:
    """Where a stream's failures show: its error log group, its prefix of the backup bucket (documents
    OpenSearch refused, records the processor failed), and the processor Lambda's own log group."""
    found: list[ErrorSource] = [
        BucketFailures(ctx.config.backup_bucket_name, backup_prefix(stream_name), f"Firehose stream {stream_name}")
    ]
    if settings.error_logging:
        found.append(LogGroupErrors(firehose_log_group_name(stream_name), f"Firehose stream {stream_name}"))
    if transform:
        found.append(LogGroupErrors(f"/aws/lambda/{transform}", f"function {transform}", shared.LAMBDA_ERROR_PATTERN))
    return tuple(found)


def firehose_probe(
    ctx: Context,
    pipeline: str,
    *,
    stream: str,
    index_pattern: str,
    field: str,
    record: Callable[[Context, str], dict[str, Any]],
    settings: FirehoseSettings,
    transform: str = "",
) -> Probe:
    """A test record put into ``stream`` (Direct PUT, as the source itself does)."""

    def send(ctx: Context, marker: str) -> None:
        data = json.dumps(record(ctx, marker), separators=(",", ":")).encode()
        ctx.aws.client("firehose").put_record(DeliveryStreamName=stream, Record={"Data": data})

    errors = delivery_errors(ctx, stream, settings, transform)
    return Probe(pipeline, f"Firehose stream {stream}", index_pattern, field, send, errors=errors)
