"""Kinesis Data Firehose delivery stream: Direct PUT source, Amazon OpenSearch Service destination.

Failed documents go to an S3 bucket under a per-stream prefix; an optional Lambda transforms
records; delivery errors go to a CloudWatch Logs group logpipe owns. Every destination setting
is compared, and a change is applied in place with ``UpdateDestination`` (the stream keeps its
ARN and its buffered data). Only what AWS cannot change in place (source type, destination
type, S3 backup mode) makes ``up`` delete and re-create the stream.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from logpipe.aws import error_code
from logpipe.config import FirehoseSettings
from logpipe.engine.context import Context
from logpipe.engine.model import Observed, Ref, Resource
from logpipe.errors import LogpipeError
from logpipe.resources.common import desired_tags_view, is_not_found, tag_dict, tag_list
from logpipe.resources.iam_role import role_name
from logpipe.resources.ownership import tags_of
from logpipe.resources.waiting import RERUN_HINT, retry_while, wait_until

DIRECT_PUT = "DirectPut"
OPENSEARCH = "AmazonOpenSearchService"
BACKUP_MODE = "FailedDocumentsOnly"
# The log stream names the Firehose console uses; the role may write only to these two.
DESTINATION_LOG_STREAM = "DestinationDelivery"
BACKUP_LOG_STREAM = "BackupDelivery"
# Properties UpdateDestination cannot change: a difference there replaces the stream.
REPLACE_ON = ("source", "destination", "s3_backup_mode")

# Logs AWS delivers itself ("vended logs": VPC flow logs, Route 53 Resolver query logs) reach a
# stream through the service-linked role AWSServiceRoleForLogDelivery, which may put records
# only into streams tagged so. AWS tags the stream when the log source is set up, but a
# re-created stream would lack it (and deliveries would silently fail): logpipe sets it too.
LOG_DELIVERY_TAG = {"LogDeliveryEnabled": "true"}

_DESCRIPTION_KEY = "AmazonopensearchserviceDestinationDescription"
# A stream becomes ACTIVE (or is gone) within a minute or two; ten is a generous bound.
_WAIT_SECONDS = 600.0
# What Firehose answers while the role it is given has not propagated: "Firehose is unable to
# assume role <arn>. Please check the role provided."; while the role's policy has not,
# "... is not authorized to perform ..." / "Verify that the IAM role has access to ...".
_ROLE_NOT_READY = ("unable to assume role", "is not authorized to perform", "verify that the iam role has access")


def _role_not_ready(exc: ClientError) -> bool:
    text = str(exc).lower()
    return error_code(exc) == "InvalidArgumentException" and any(phrase in text for phrase in _ROLE_NOT_READY)


def _logging(enabled: bool, group: str | None, stream: str) -> dict[str, Any]:
    if not enabled or not group:
        return {"enabled": False}
    return {"enabled": True, "log_group": group, "log_stream": stream}


def _logging_options(view: dict[str, Any]) -> dict[str, Any]:
    if not view.get("enabled"):
        return {"Enabled": False}
    return {"Enabled": True, "LogGroupName": view["log_group"], "LogStreamName": view["log_stream"]}


def _logging_view(options: dict[str, Any] | None) -> dict[str, Any]:
    options = options or {}
    return _logging(bool(options.get("Enabled")), options.get("LogGroupName"), options.get("LogStreamName", ""))


def _processor_arn(config: dict[str, Any] | None) -> str | None:
    if not config or not config.get("Enabled"):
        return None
    for processor in config.get("Processors") or []:
        if processor.get("Type") != "Lambda":
            continue
        for parameter in processor.get("Parameters") or []:
            if parameter.get("ParameterName") == "LambdaArn":
                return parameter.get("ParameterValue")
    return None


def _processing(arn: str | None) -> dict[str, Any]:
    if arn is None:
        return {"Enabled": False, "Processors": []}
    # 1 MB per invocation, stated rather than left to the service default: a transformed flow
    # record is ~4x its input, and Lambda's response (6 MB) must hold the whole batch.
    parameters = [
        {"ParameterName": "LambdaArn", "ParameterValue": arn},
        {"ParameterName": "BufferSizeInMBs", "ParameterValue": "1"},
    ]
    return {"Enabled": True, "Processors": [{"Type": "Lambda", "Parameters": parameters}]}


def _destination_type(destination: dict[str, Any]) -> str | None:
    if _DESCRIPTION_KEY in destination:
        return OPENSEARCH
    kinds = [k.removesuffix("DestinationDescription") for k in destination if k.endswith("DestinationDescription")]
    # OpenSearch/Elasticsearch/... destinations also list their S3 backup as S3DestinationDescription.
    others = [k for k in kinds if k != "S3"]
    return (others or kinds or [None])[0]


class FirehoseStream(Resource):
    """A Direct PUT stream into one OpenSearch Service domain. Outputs: ``arn``, ``name``."""

    kind = "firehose-stream"
    reads_alone = True

    def __init__(
        self,
        name: str,
        *,
        role_arn: Ref | str,
        domain_arn: Ref | str,
        index: str,
        settings: FirehoseSettings,
        backup_bucket_arn: Ref | str,
        backup_prefix: str,
        log_group: str | None = None,
        processor_arn: Ref | str | None = None,
        extra_tags: dict[str, str] | None = None,
        depends_on: tuple[Resource, ...] = (),
    ) -> None:
        super().__init__(name, depends_on=depends_on)
        self.extra_tags = dict(extra_tags or {})
        self.role_arn = role_arn
        self.domain_arn = domain_arn
        self.index = index
        self.settings = settings
        self.backup_bucket_arn = backup_bucket_arn
        self.backup_prefix = backup_prefix
        self.log_group = log_group
        self.processor_arn = processor_arn

    def describe(self) -> str:
        return f"Firehose stream {self.name} → OpenSearch index {self.index}"

    def arn(self, ctx: Context) -> str:
        """The ARN this stream has (or will have): it follows from the name alone."""
        return ctx.arn("firehose", f"deliverystream/{self.name}")

    # desired / read -------------------------------------------------------------
    def desired(self, ctx: Context) -> dict[str, Any]:
        settings = self.settings
        logging_on = settings.error_logging and self.log_group is not None
        return {
            "source": DIRECT_PUT,
            "destination": OPENSEARCH,
            "role_arn": ctx.resolve(self.role_arn),
            "domain_arn": ctx.resolve(self.domain_arn),
            "index_name": self.index,
            "index_rotation": settings.index_rotation,
            "buffer_size_mb": settings.buffering.size_mb,
            "buffer_interval_seconds": settings.buffering.interval_seconds,
            "retry_seconds": settings.retry_seconds,
            "s3_backup_mode": BACKUP_MODE,
            "backup_bucket_arn": ctx.resolve(self.backup_bucket_arn),
            "backup_prefix": self.backup_prefix,
            "processor_arn": ctx.resolve(self.processor_arn),
            "logging": _logging(logging_on, self.log_group, DESTINATION_LOG_STREAM),
            "backup_logging": _logging(logging_on, self.log_group, BACKUP_LOG_STREAM),
            "tags": self._desired_tags(ctx),
        }

    def _desired_tags(self, ctx: Context) -> dict[str, str]:
        return {**self.extra_tags, **ctx.tags}

    def read(self, ctx: Context) -> Observed | None:
        client = ctx.aws.client("firehose")
        found = self._describe(client)
        if found is None or found["DeliveryStreamStatus"] == "DELETING":
            return None
        tags = tags_of(ctx, found["DeliveryStreamARN"], self._desired_tags(ctx), lambda: self._tags(client))
        destination = (found.get("Destinations") or [{}])[0]
        config = destination.get(_DESCRIPTION_KEY) or {}
        backup = config.get("S3DestinationDescription") or destination.get("S3DestinationDescription") or {}
        buffering = config.get("BufferingHints") or {}
        status = found["DeliveryStreamStatus"]
        note = ""
        if status != "ACTIVE":
            failure = (found.get("FailureDescription") or {}).get("Details", "")
            note = f"status {status}" + (f": {failure}" if failure else "")
        return Observed(
            {
                "source": found.get("DeliveryStreamType"),
                "destination": _destination_type(destination),
                "role_arn": config.get("RoleARN"),
                "domain_arn": config.get("DomainARN"),
                "index_name": config.get("IndexName"),
                "index_rotation": config.get("IndexRotationPeriod"),
                "buffer_size_mb": buffering.get("SizeInMBs"),
                "buffer_interval_seconds": buffering.get("IntervalInSeconds"),
                "retry_seconds": (config.get("RetryOptions") or {}).get("DurationInSeconds"),
                "s3_backup_mode": config.get("S3BackupMode"),
                "backup_bucket_arn": backup.get("BucketARN"),
                "backup_prefix": backup.get("Prefix"),
                "processor_arn": _processor_arn(config.get("ProcessingConfiguration")),
                "logging": _logging_view(config.get("CloudWatchLoggingOptions")),
                "backup_logging": _logging_view(backup.get("CloudWatchLoggingOptions")),
                "tags": desired_tags_view(tags, self._desired_tags(ctx)),
            },
            self._outputs(found),
            owned=ctx.owns(tags),
            raw=found,
            note=note,
        )

    # changes ------------------------------------------------------------------
    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        client = ctx.aws.client("firehose")

        def create() -> Any:
            return client.create_delivery_stream(
                DeliveryStreamName=self.name,
                DeliveryStreamType=DIRECT_PUT,
                AmazonopensearchserviceDestinationConfiguration=self._configuration(desired),
                Tags=tag_list(desired["tags"]),
            )

        what = self._waiting_for_role(desired, "CreateDeliveryStream")
        try:
            retry_while(ctx, create, _role_not_ready, what=what)
        except ClientError as exc:
            # A stream of this name still being deleted (a replace, or a teardown a moment ago).
            existing = self._describe(client) if error_code(exc) == "ResourceInUseException" else None
            if existing is None or existing["DeliveryStreamStatus"] != "DELETING":
                raise
            self._wait_gone(ctx, client)
            retry_while(ctx, create, _role_not_ready, what=what)
        return self._outputs(self._wait_active(ctx, client))

    def update(
        self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict[str, tuple[Any, Any]]
    ) -> dict[str, Any] | None:
        client = ctx.aws.client("firehose")
        if any(key in changes for key in REPLACE_ON):
            if not observed.owned:
                # --adopt takes a resource over; it never deletes what logpipe did not create.
                raise LogpipeError(
                    f"Firehose stream {self.name} is not logpipe's and its "
                    f"{', '.join(sorted(set(changes) & set(REPLACE_ON)))} cannot be changed in place; "
                    "delete it or set another stream_name"
                )
            ctx.progress(
                f"Firehose stream {self.name}: {', '.join(sorted(set(changes) & set(REPLACE_ON)))} "
                "cannot be changed in place; deleting and re-creating it"
            )
            self.delete(ctx, observed)
            return self.create(ctx, desired)
        outputs = None
        if set(changes) - {"tags"}:
            # The version id must be the current one, so read it again rather than trust the plan's read.
            current = self._wait_active(ctx, client)
            destination_id = current["Destinations"][0]["DestinationId"]
            retry_while(
                ctx,
                lambda: client.update_destination(
                    DeliveryStreamName=self.name,
                    CurrentDeliveryStreamVersionId=current["VersionId"],
                    DestinationId=destination_id,
                    AmazonopensearchserviceDestinationUpdate=self._update(desired),
                ),
                _role_not_ready,
                what=self._waiting_for_role(desired, "UpdateDestination"),
            )
            outputs = self._outputs(self._wait_active(ctx, client))
        if "tags" in changes:
            client.tag_delivery_stream(DeliveryStreamName=self.name, Tags=tag_list(desired["tags"]))
        return outputs

    def delete(self, ctx: Context, observed: Observed) -> None:
        client = ctx.aws.client("firehose")
        try:
            client.delete_delivery_stream(DeliveryStreamName=self.name)
        except ClientError as exc:
            if not is_not_found(exc):
                raise
        self._wait_gone(ctx, client)

    # request shapes -------------------------------------------------------------
    def _configuration(self, desired: dict[str, Any]) -> dict[str, Any]:
        return {
            "RoleARN": desired["role_arn"],
            "DomainARN": desired["domain_arn"],
            "IndexName": desired["index_name"],
            "IndexRotationPeriod": desired["index_rotation"],
            "BufferingHints": self._buffering(desired),
            "RetryOptions": {"DurationInSeconds": desired["retry_seconds"]},
            "S3BackupMode": desired["s3_backup_mode"],
            "S3Configuration": self._s3(desired),
            "ProcessingConfiguration": _processing(desired["processor_arn"]),
            "CloudWatchLoggingOptions": _logging_options(desired["logging"]),
        }

    def _update(self, desired: dict[str, Any]) -> dict[str, Any]:
        # Everything is sent: UpdateDestination merges, so a full update is idempotent and simple.
        update = self._configuration(desired)
        update.pop("S3BackupMode")
        update["S3Update"] = update.pop("S3Configuration")
        return update

    @staticmethod
    def _buffering(desired: dict[str, Any]) -> dict[str, int]:
        return {"SizeInMBs": desired["buffer_size_mb"], "IntervalInSeconds": desired["buffer_interval_seconds"]}

    @staticmethod
    def _s3(desired: dict[str, Any]) -> dict[str, Any]:
        return {
            "RoleARN": desired["role_arn"],
            "BucketARN": desired["backup_bucket_arn"],
            "Prefix": desired["backup_prefix"],
            "CloudWatchLoggingOptions": _logging_options(desired["backup_logging"]),
        }

    # AWS helpers ---------------------------------------------------------------
    @staticmethod
    def _waiting_for_role(desired: dict[str, Any], operation: str) -> str:
        return f"IAM role {role_name(desired['role_arn'])} to propagate (Firehose {operation}: unable to assume role)"

    def _describe(self, client: Any) -> dict[str, Any] | None:
        try:
            return client.describe_delivery_stream(DeliveryStreamName=self.name)["DeliveryStreamDescription"]
        except ClientError as exc:
            if is_not_found(exc):
                return None
            raise

    def _tags(self, client: Any) -> dict[str, str]:
        tags: dict[str, str] = {}
        args: dict[str, Any] = {"DeliveryStreamName": self.name}
        while True:
            page = client.list_tags_for_delivery_stream(**args)
            found = page.get("Tags") or []
            tags.update(tag_dict(found))
            if not page.get("HasMoreTags") or not found:
                return tags
            args["ExclusiveStartTagKey"] = found[-1]["Key"]

    def _outputs(self, found: dict[str, Any]) -> dict[str, Any]:
        return {"arn": found["DeliveryStreamARN"], "name": self.name, "version_id": found.get("VersionId")}

    def _wait_active(self, ctx: Context, client: Any) -> dict[str, Any]:
        """Wait until the stream is ACTIVE (creation takes a minute or two); fail on CREATING_FAILED."""
        latest: dict[str, Any] = {}

        def active() -> bool | str:
            found = self._describe(client)
            if found is None:
                raise LogpipeError(f"Firehose stream {self.name} disappeared while waiting for it")
            latest.update(found)
            status = found["DeliveryStreamStatus"]
            if status.endswith("FAILED"):
                detail = (found.get("FailureDescription") or {}).get("Details", "no detail given")
                raise LogpipeError(f"Firehose stream {self.name} is {status}: {detail}")
            return True if status == "ACTIVE" else f"now {status}"

        wait_until(
            ctx,
            active,
            what=f"Firehose stream {self.name} to become ACTIVE",
            timeout=_WAIT_SECONDS,
            hint=RERUN_HINT,
            first_delay=2.0,
            max_delay=15.0,
        )
        return latest

    def _wait_gone(self, ctx: Context, client: Any) -> None:
        def gone() -> bool | str:
            found = self._describe(client)
            return True if found is None else f"now {found['DeliveryStreamStatus']}"

        wait_until(
            ctx,
            gone,
            what=f"Firehose stream {self.name} to be deleted",
            timeout=_WAIT_SECONDS,
            hint="run the same command again in a few minutes",
            first_delay=2.0,
            max_delay=15.0,
        )
