"""AWS Config: the configuration recorder, its delivery channel (which also starts it), its bucket.

There is one customer-managed recorder and one delivery channel per account and region, so
all three are ``shared``: logpipe creates them only when the region has no recorder, and a
recorder somebody else made is used exactly as it is (never reconfigured, started, stopped
or deleted).

Ownership. A recorder's tags cannot be changed after creation and older recorders have none,
so ownership is its *name*: logpipe creates its recorder as ``<prefix>-recorder``; a recorder
of that name is logpipe's, any other (typically ``default``) is not. The delivery channel
cannot be tagged: it is logpipe's when its name is ``<prefix>-delivery-channel`` and the
recorder is logpipe's. The recorder uses the service-linked role ``AWSServiceRoleForConfig``
(created when missing, never deleted: other tools and Config itself rely on it).

When the region already has a recorder, logpipe needs neither a bucket nor a channel: the
bucket and channel then report ``external`` ("not needed") instead of being created.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from logpipe.aws import error_code
from logpipe.engine.context import Context
from logpipe.engine.model import UNKNOWN, Observed, Ref, Resource
from logpipe.errors import LogpipeError
from logpipe.resources.common import is_not_found, tag_list
from logpipe.resources.s3_bucket import S3Bucket
from logpipe.resources.waiting import retry_while, wait_until

CONFIG_SERVICE = "config.amazonaws.com"
SERVICE_LINKED_ROLE = "AWSServiceRoleForConfig"
# Record every supported resource type, global ones (IAM) included: the lab's Config setup.
RECORDING_GROUP = {"allSupported": True, "includeGlobalResourceTypes": True}
# A started recorder reports lastStatus Pending until its first recording, usually within minutes.
RECORDER_START_TIMEOUT_SECONDS = 600.0


def service_linked_role_arn(ctx: Context) -> str:
    return f"arn:{ctx.partition}:iam::{ctx.account_id}:role/aws-service-role/{CONFIG_SERVICE}/{SERVICE_LINKED_ROLE}"


def delivery_bucket_policy(ctx: Context, bucket: str) -> dict[str, Any]:
    """The bucket policy AWS Config needs to deliver to ``bucket`` (Config developer guide).

    Each statement is limited to this account's Config (``aws:SourceAccount``); objects may
    only be written under ``AWSLogs/<account>/Config/`` and handed to the bucket owner.
    """
    bucket_arn = f"arn:{ctx.partition}:s3:::{bucket}"
    principal = {"Service": CONFIG_SERVICE}
    source = {"aws:SourceAccount": ctx.account_id}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AWSConfigBucketPermissionsCheck",
                "Effect": "Allow",
                "Principal": principal,
                "Action": "s3:GetBucketAcl",
                "Resource": bucket_arn,
                "Condition": {"StringEquals": source},
            },
            {
                "Sid": "AWSConfigBucketExistenceCheck",
                "Effect": "Allow",
                "Principal": principal,
                "Action": "s3:ListBucket",
                "Resource": bucket_arn,
                "Condition": {"StringEquals": source},
            },
            {
                "Sid": "AWSConfigBucketDelivery",
                "Effect": "Allow",
                "Principal": principal,
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/AWSLogs/{ctx.account_id}/Config/*",
                "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **source}},
            },
        ],
    }


def _customer_recorders(ctx: Context) -> list[dict[str, Any]]:
    # Service-linked recorders (servicePrincipal set) belong to other AWS services; not ours to use.
    found = ctx.aws.read_once("config", "describe_configuration_recorders").get("ConfigurationRecorders", [])
    return [r for r in found if not r.get("servicePrincipal")]


def _is_recording(ctx: Context, name: str) -> bool:
    """Whether the recorder records, as read in this run (the recorder and its channel both ask)."""
    statuses = ctx.aws.read_once(
        "config", "describe_configuration_recorder_status", ConfigurationRecorderNames=[name]
    ).get("ConfigurationRecordersStatus", [])
    return any(s.get("recording") for s in statuses)


def _recorder_state(ctx: Context, recorder: ConfigRecorder) -> str:
    """'missing', 'ours' or 'theirs', as the recorder was read (or made) in this run."""
    if ctx.resolve(Ref(recorder, "name")) is UNKNOWN:
        return "missing"
    return "ours" if ctx.is_owned(recorder) else "theirs"


def _not_needed(name: str, ctx: Context, recorder: ConfigRecorder, what: str) -> Observed:
    theirs = ctx.resolve(Ref(recorder, "name"))
    return Observed(
        {},
        {"name": name},
        owned=False,
        note=f"not needed: the region's own Config recorder {theirs} is used; logpipe creates no {what}",
    )


class ConfigRecorder(Resource):
    """The region's configuration recorder (created stopped; the delivery channel starts it)."""

    kind = "config-recorder"
    reads_alone = True
    policy = "shared"

    def describe(self) -> str:
        return "AWS Config configuration recorder"

    def desired(self, ctx: Context) -> dict[str, Any]:
        return {"recording_group": RECORDING_GROUP, "role_arn": service_linked_role_arn(ctx)}

    def read(self, ctx: Context) -> Observed | None:
        recorders = _customer_recorders(ctx)
        if not recorders:
            return None
        found = next((r for r in recorders if r["name"] == self.name), recorders[0])
        group = found.get("recordingGroup") or {}
        recording = _is_recording(ctx, found["name"])
        owned = found["name"] == self.name
        notes = [] if owned else [f"the region's recorder {found['name']} is used as it is"]
        if not recording:
            notes.append("not recording")
        if not (group.get("allSupported") and group.get("includeGlobalResourceTypes")):
            notes.append("does not record all resource types")
        return Observed(
            {
                "recording_group": {
                    "allSupported": bool(group.get("allSupported")),
                    "includeGlobalResourceTypes": bool(group.get("includeGlobalResourceTypes")),
                },
                "role_arn": found.get("roleARN"),
            },
            {"name": found["name"], "recording": recording},
            owned=owned,
            note="; ".join(notes),
        )

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        _ensure_service_linked_role(ctx)
        self._put(ctx, desired, tags=True)
        return {"name": self.name, "recording": False}

    def update(self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict) -> None:
        self._put(ctx, desired, tags=False)
        return None

    def _put(self, ctx: Context, desired: dict[str, Any], *, tags: bool) -> None:
        config = ctx.aws.client("config")
        args: dict[str, Any] = {
            "ConfigurationRecorder": {
                "name": self.name,
                "roleARN": desired["role_arn"],
                "recordingGroup": desired["recording_group"],
            }
        }
        if tags:
            # Tags can only be set at creation; they inform people, ownership is the name.
            args["Tags"] = tag_list(ctx.tags)
        # A service-linked role created seconds ago may not be usable by Config yet.
        retry_while(
            ctx,
            lambda: config.put_configuration_recorder(**args),
            lambda exc: error_code(exc) == "InvalidRoleException",
            what=f"IAM role {SERVICE_LINKED_ROLE} to propagate (Config PutConfigurationRecorder: InvalidRoleException)",
        )

    def delete(self, ctx: Context, observed: Observed) -> None:
        config = ctx.aws.client("config")
        try:
            config.stop_configuration_recorder(ConfigurationRecorderName=self.name)
            config.delete_configuration_recorder(ConfigurationRecorderName=self.name)
        except ClientError as exc:
            if error_code(exc) != "NoSuchConfigurationRecorderException":
                raise


def _ensure_service_linked_role(ctx: Context) -> None:
    iam = ctx.aws.client("iam")
    try:
        iam.get_role(RoleName=SERVICE_LINKED_ROLE)
        return
    except ClientError as exc:
        if not is_not_found(exc):
            raise
    try:
        iam.create_service_linked_role(AWSServiceName=CONFIG_SERVICE)
    except ClientError as exc:
        # Made meanwhile by someone else (AWS says "has been taken in this account"): fine.
        if not (error_code(exc) == "InvalidInput" and "taken" in str(exc)):
            raise


class ConfigDeliveryBucket(S3Bucket):
    """The bucket Config delivers to; only made when logpipe makes the recorder too."""

    reads_alone = False  # whether it is needed depends on the recorder, read first

    def __init__(self, name: str, *, recorder: ConfigRecorder, policy_document: dict[str, Any]) -> None:
        super().__init__(name, policy_document=policy_document, policy="shared")
        self._recorder = recorder
        self._explicit_deps = (recorder,)

    def read(self, ctx: Context) -> Observed | None:
        observed = super().read(ctx)
        if observed is None and _recorder_state(ctx, self._recorder) == "theirs":
            return _not_needed(self.name, ctx, self._recorder, "bucket")
        return observed


class ConfigDeliveryChannel(Resource):
    """The delivery channel to logpipe's bucket; creating or repairing it also starts the recorder."""

    kind = "config-delivery-channel"
    policy = "shared"

    def __init__(self, name: str, *, recorder: ConfigRecorder, bucket: S3Bucket) -> None:
        super().__init__(name, depends_on=(recorder,))
        self.recorder = recorder
        self.bucket_name = Ref(bucket, "name")

    def describe(self) -> str:
        return "AWS Config delivery channel"

    def desired(self, ctx: Context) -> dict[str, Any]:
        return {"s3_bucket": ctx.resolve(self.bucket_name), "recording": True}

    def read(self, ctx: Context) -> Observed | None:
        channels = ctx.aws.read_once("config", "describe_delivery_channels").get("DeliveryChannels", [])
        state = _recorder_state(ctx, self.recorder)
        if not channels:
            # Never add a channel to (and so start) a recorder logpipe did not make.
            return _not_needed(self.name, ctx, self.recorder, "delivery channel") if state == "theirs" else None
        channel = next((c for c in channels if c["name"] == self.name), channels[0])
        recorder_name = ctx.resolve(Ref(self.recorder, "name"))
        recording = state != "missing" and _is_recording(ctx, recorder_name)
        owned = state == "ours" and channel["name"] == self.name
        return Observed(
            {"s3_bucket": channel.get("s3BucketName"), "recording": recording},
            {"name": channel["name"]},
            owned=owned,
            note="" if owned else f"the region's delivery channel {channel['name']} is used as it is",
        )

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        self._put(ctx, desired)
        self._start(ctx)
        return {"name": self.name}

    def update(self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict) -> None:
        if "s3_bucket" in changes:
            self._put(ctx, desired)
        if "recording" in changes or "s3_bucket" in changes:
            self._start(ctx)
        return None

    def _put(self, ctx: Context, desired: dict[str, Any]) -> None:
        config = ctx.aws.client("config")
        # Config checks, when the channel is saved, that the recorder's role can write to the
        # bucket: a role or a bucket policy made seconds ago may not be seen yet ("Insufficient
        # delivery policy to s3 bucket: ..., unable to assume role: ...").
        retry_while(
            ctx,
            lambda: config.put_delivery_channel(
                DeliveryChannel={"name": self.name, "s3BucketName": desired["s3_bucket"]}
            ),
            lambda exc: error_code(exc) == "InsufficientDeliveryPolicyException",
            what=(
                f"IAM role {SERVICE_LINKED_ROLE} and the bucket policy of {desired['s3_bucket']} to propagate "
                "(Config PutDeliveryChannel: InsufficientDeliveryPolicyException)"
            ),
        )

    def _start(self, ctx: Context) -> None:
        """Start the recorder and wait for its first recording (Pending for up to a few minutes)."""
        config = ctx.aws.client("config")
        name = ctx.resolve(Ref(self.recorder, "name"))
        config.start_configuration_recorder(ConfigurationRecorderName=name)

        def first_recording() -> bool | str:
            statuses = config.describe_configuration_recorder_status(ConfigurationRecorderNames=[name])
            status = (statuses.get("ConfigurationRecordersStatus") or [{}])[0]
            last = str(status.get("lastStatus") or "").upper()
            if last == "FAILURE":
                raise LogpipeError(
                    f"AWS Config recorder {name} failed to record: "
                    f"{status.get('lastErrorCode', '')} {status.get('lastErrorMessage', '')}".rstrip()
                )
            if status.get("recording") and last in ("SUCCESS", "NOTAPPLICABLE"):
                return True
            return f"recording {'on' if status.get('recording') else 'off'}, last status {last.lower() or 'none'}"

        wait_until(
            ctx,
            first_recording,
            what=f"AWS Config recorder {name} to make its first recording",
            timeout=RECORDER_START_TIMEOUT_SECONDS,
            hint=(
                "the recorder is started and keeps going; `logpipe status securityhub` shows when it records, "
                "and `logpipe up securityhub` finishes anything left"
            ),
            first_delay=2.0,
            max_delay=30.0,
        )

    def delete(self, ctx: Context, observed: Observed) -> None:
        config = ctx.aws.client("config")
        # AWS refuses to delete the last channel while the recorder runs.
        recorder_name = ctx.resolve(Ref(self.recorder, "name"))
        if recorder_name is not UNKNOWN:
            try:
                config.stop_configuration_recorder(ConfigurationRecorderName=recorder_name)
            except ClientError as exc:
                if error_code(exc) != "NoSuchConfigurationRecorderException":
                    raise
        try:
            config.delete_delivery_channel(DeliveryChannelName=self.name)
        except ClientError as exc:
            if error_code(exc) != "NoSuchDeliveryChannelException":
                raise
