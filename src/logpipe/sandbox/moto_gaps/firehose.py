"""Firehose gaps.

- Amazon OpenSearch Service destinations (``AmazonopensearchserviceDestinationConfiguration``):
  moto 5.2.5 has no such destination type, so CreateDeliveryStream rejects it ("Exactly one
  destination configuration ...") and UpdateDestination ignores
  ``AmazonopensearchserviceDestinationUpdate``. Added with AWS's defaults in the description.
- Required members of a destination configuration (``RoleARN``, ``IndexName``,
  ``S3Configuration.BucketARN`` ...) are not checked by moto; AWS rejects the request with
  ``InvalidArgumentException``. (boto3 checks them client-side; other SDKs, the CLI with
  validation off and raw HTTP reach the server.)
- PutRecord(Batch) to an OpenSearch destination returned no RecordIds; CloudWatch Logs
  subscriptions to a stream without an S3 destination crashed (``KeyError: 'S3'``).
  Records now get RecordIds and are published to :mod:`.deliveries`.
"""

from __future__ import annotations

import copy
import inspect
import logging
import threading
from typing import Any

from botocore import xform_name
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.firehose.exceptions import (
    ConcurrentModificationException,
    InvalidArgumentException,
    ResourceNotFoundException,
)
from moto.firehose.models import DeliveryStream, FirehoseBackend, firehose_backends
from moto.firehose.responses import FirehoseResponse
from moto.moto_api._internal import mock_random

from . import deliveries
from ._patching import missing_required_members, null_members_message, patch, service_model

log = logging.getLogger(__name__)

# moto keys destinations by a name; DescribeDeliveryStream shows "<name>DestinationDescription".
OPENSEARCH = "Amazonopensearchservice"
_OS_CONFIG_ARG = "amazonopensearchservice_destination_configuration"
_OS_UPDATE_ARG = "amazonopensearchservice_destination_update"
_ONE_DESTINATION = "Exactly one destination configuration is supported for a Firehose"
_TYPE_CHANGE = "Changing the destination type to or from Amazonopensearchservice is not supported at this time."

_S3_DESCRIPTION_DEFAULTS: dict[str, Any] = {
    "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 300},
    "CompressionFormat": "UNCOMPRESSED",
    "EncryptionConfiguration": {"NoEncryptionConfig": "NoEncryption"},
    "CloudWatchLoggingOptions": {"Enabled": False},
}
_OS_DESCRIPTION_DEFAULTS: dict[str, Any] = {
    "IndexRotationPeriod": "OneDay",
    "BufferingHints": {"IntervalInSeconds": 300, "SizeInMBs": 5},
    "RetryOptions": {"DurationInSeconds": 300},
    "S3BackupMode": "FailedDocumentsOnly",
    "CloudWatchLoggingOptions": {"Enabled": False},
}

_update_lock = threading.Lock()


class _OpenSearchDestination(dict):  # type: ignore[type-arg]
    """Marks a destination config passed through moto's create path as OpenSearch."""


def _with_defaults(value: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(value)
    for key, default in defaults.items():
        if isinstance(default, dict) and isinstance(result.get(key), dict):
            result[key] = {**default, **result[key]}
        elif result.get(key) is None:
            result[key] = copy.deepcopy(default)
    return result


def _s3_description(s3_config: dict[str, Any]) -> dict[str, Any]:
    return _with_defaults(s3_config, _S3_DESCRIPTION_DEFAULTS)


def _vpc_description(account_id: str, region: str, vpc_config: dict[str, Any]) -> dict[str, Any]:
    from moto.ec2.models import ec2_backends

    subnet_ids = list(vpc_config.get("SubnetIds") or [])
    ec2 = ec2_backends[account_id][region]
    vpc_id = None
    for subnet_id in subnet_ids:
        try:
            vpc_id = ec2.get_subnet(subnet_id).vpc_id
        except Exception as exc:
            raise InvalidArgumentException(f"Subnet {subnet_id} does not exist.") from exc
    description = {
        "SubnetIds": subnet_ids,
        "RoleARN": vpc_config.get("RoleARN"),
        "SecurityGroupIds": list(vpc_config.get("SecurityGroupIds") or []),
    }
    if vpc_id:
        description["VpcId"] = vpc_id
    return description


def _check_endpoint_choice(config: dict[str, Any]) -> None:
    has_domain = bool(config.get("DomainARN"))
    has_cluster = bool(config.get("ClusterEndpoint"))
    if has_domain and has_cluster:
        raise InvalidArgumentException("Only one of DomainARN and ClusterEndpoint may be specified.")
    if not has_domain and not has_cluster:
        raise InvalidArgumentException("Either DomainARN or ClusterEndpoint must be specified.")


def _opensearch_description(account_id: str, region: str, config: dict[str, Any]) -> dict[str, Any]:
    _check_endpoint_choice(config)
    description = {
        k: copy.deepcopy(v)
        for k, v in config.items()
        if k not in ("S3Configuration", "VpcConfiguration") and v is not None
    }
    description = _with_defaults(description, _OS_DESCRIPTION_DEFAULTS)
    description["S3DestinationDescription"] = _s3_description(config["S3Configuration"])
    if config.get("VpcConfiguration"):
        description["VpcConfigurationDescription"] = _vpc_description(account_id, region, config["VpcConfiguration"])
    return description


def _validate_required(arguments: dict[str, Any], operation: str) -> None:
    """AWS rejects destination configs without their required members (e.g. RoleARN)."""
    input_shape = service_model("firehose").operation_model(operation).input_shape
    missing: list[str] = []
    for member_name, member_shape in input_shape.members.items():
        value = arguments.get(xform_name(member_name))
        if member_name.endswith("Configuration") and isinstance(value, dict):
            path = member_name[:1].lower() + member_name[1:]
            missing.extend(missing_required_members(member_shape, value, path))
    if missing:
        raise InvalidArgumentException(null_members_message(missing))


def _has_opensearch(stream: DeliveryStream) -> bool:
    return any(OPENSEARCH in destination for destination in stream.destinations)


def install() -> None:
    orig_stream_init = DeliveryStream.__init__
    orig_create = FirehoseBackend.create_delivery_stream
    orig_update = FirehoseBackend.update_destination
    orig_put_record_batch = FirehoseBackend.put_record_batch
    init_signature = inspect.signature(orig_stream_init)
    create_signature = inspect.signature(orig_create)
    update_signature = inspect.signature(orig_update)

    def stream_init(self: DeliveryStream, *args: Any, **kwargs: Any) -> None:
        # An OpenSearch config travels through moto's create path disguised as Elasticsearch
        # (which gives us moto's own name/limit/tag checks); store it under its real name.
        bound = init_signature.bind(self, *args, **kwargs)
        if isinstance(bound.arguments.get("destination_config"), _OpenSearchDestination):
            bound.arguments["destination_name"] = OPENSEARCH
            bound.arguments["destination_config"] = dict(bound.arguments["destination_config"])
        orig_stream_init(*bound.args, **bound.kwargs)

    def create_delivery_stream(self: FirehoseBackend, *args: Any, **kwargs: Any) -> str:
        os_config = kwargs.pop(_OS_CONFIG_ARG, None)
        bound = create_signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        arguments[_OS_CONFIG_ARG] = os_config
        _validate_required(arguments, "CreateDeliveryStream")
        if not os_config:
            return orig_create(*bound.args, **bound.kwargs)
        others = [k for k, v in bound.arguments.items() if k.endswith("_destination_configuration") and v]
        if others:
            raise InvalidArgumentException(_ONE_DESTINATION)
        description = _opensearch_description(self.account_id, self.region_name, os_config)
        bound.arguments["elasticsearch_destination_configuration"] = _OpenSearchDestination(description)
        return orig_create(*bound.args, **bound.kwargs)

    def update_destination(self: FirehoseBackend, *args: Any, **kwargs: Any) -> None:
        os_update = kwargs.pop(_OS_UPDATE_ARG, None)
        bound = update_signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        a = bound.arguments
        others = [
            k
            for k, v in a.items()
            if v and (k.endswith("_destination_update") or k.endswith("_destination_configuration"))
        ]
        stream = self.delivery_streams.get(a["delivery_stream_name"])
        if not os_update:
            # Like Amazon ES, an OpenSearch destination cannot be switched to another type.
            if (
                stream is not None
                and others
                and _has_opensearch(stream)
                and stream.version_id == a["current_delivery_stream_version_id"]
            ):
                raise InvalidArgumentException(_TYPE_CHANGE)
            return orig_update(*bound.args, **bound.kwargs)
        if others:
            raise InvalidArgumentException(_ONE_DESTINATION)
        name = a["delivery_stream_name"]
        if stream is None:
            raise ResourceNotFoundException(f"Firehose {name} under accountId {self.account_id} not found.")
        with _update_lock:
            current = a["current_delivery_stream_version_id"]
            if stream.version_id != current:
                raise ConcurrentModificationException(
                    f"Cannot update firehose: {name} since the current version id: "
                    f"{stream.version_id} and specified version id: {current} do not match"
                )
            destination = next((d for d in stream.destinations if d["destination_id"] == a["destination_id"]), None)
            if destination is None:
                raise InvalidArgumentException(f"Destination Id {a['destination_id']} not found")
            if OPENSEARCH not in destination:
                raise InvalidArgumentException(_TYPE_CHANGE)
            if os_update.get("DomainARN") and os_update.get("ClusterEndpoint"):
                raise InvalidArgumentException("Only one of DomainARN and ClusterEndpoint may be specified.")
            updated = copy.deepcopy(destination[OPENSEARCH])
            for key, value in os_update.items():
                if value is None:
                    continue
                if key == "S3Update":
                    merged = {**updated.get("S3DestinationDescription", {}), **value}
                    updated["S3DestinationDescription"] = _s3_description(merged)
                elif key in ("DomainARN", "ClusterEndpoint"):
                    updated.pop("DomainARN", None)
                    updated.pop("ClusterEndpoint", None)
                    updated[key] = value
                elif key == "BufferingHints":
                    updated[key] = {**_OS_DESCRIPTION_DEFAULTS["BufferingHints"], **value}
                else:
                    updated[key] = copy.deepcopy(value)
            destination[OPENSEARCH] = updated
            stream.version_id = str(int(stream.version_id) + 1)
            stream.last_update_timestamp = utcnow()

    def put_record_batch(
        self: FirehoseBackend, delivery_stream_name: str, records: list[dict[str, bytes]]
    ) -> dict[str, Any]:
        stream = self.delivery_streams.get(delivery_stream_name)
        if stream is not None and _has_opensearch(stream):
            # moto has no OpenSearch to write to: answer like AWS, publish the records.
            result: dict[str, Any] = {
                "FailedPutCount": 0,
                "Encrypted": False,
                "RequestResponses": [{"RecordId": str(mock_random.uuid4())} for _ in records],
            }
        else:
            result = orig_put_record_batch(self, delivery_stream_name, records)
        if stream is not None:
            destination = {
                f"{k}DestinationDescription": copy.deepcopy(v)
                for k, v in stream.destinations[0].items()
                if k != "destination_id"
            }
            deliveries.publish(
                deliveries.Delivery(
                    target_arn=stream.delivery_stream_arn,
                    origin=deliveries.current_origin("firehose:PutRecordBatch"),
                    payloads=tuple(_as_bytes(r.get("Data", b"")) for r in records),
                    destination=destination,
                )
            )
        return result

    def send_log_event(
        self: FirehoseBackend,
        delivery_stream_arn: str,
        filter_name: str,
        log_group_name: str,
        log_stream_name: str,
        log_events: list[dict[str, Any]],
    ) -> None:
        # moto wrote straight to destinations[0]["S3"] (KeyError for any other destination).
        # Deliver the same gzipped CloudWatch Logs payload through the stream instead.
        payload = deliveries.cloudwatch_logs_payload(
            self.account_id, log_group_name, log_stream_name, filter_name, log_events
        )
        stream = self.lookup_name_from_arn(delivery_stream_arn)
        if stream is None:
            return
        try:
            with deliveries.origin(f"logs:{log_group_name}/{filter_name}"):
                self.put_record_batch(stream.delivery_stream_name, [{"Data": payload}])
        except Exception:  # AWS never fails PutLogEvents because a subscriber fails
            log.exception("Firehose delivery of CloudWatch Logs events to %s failed", delivery_stream_arn)

    def response_create_delivery_stream(self: FirehoseResponse) -> ActionResult:
        arn = self.firehose_backend.create_delivery_stream(
            self.region,
            self._get_param("DeliveryStreamName"),
            self._get_param("DeliveryStreamType"),
            self._get_param("KinesisStreamSourceConfiguration"),
            self._get_param("DeliveryStreamEncryptionConfigurationInput"),
            self._get_param("S3DestinationConfiguration"),
            self._get_param("ExtendedS3DestinationConfiguration"),
            self._get_param("RedshiftDestinationConfiguration"),
            self._get_param("ElasticsearchDestinationConfiguration"),
            self._get_param("SplunkDestinationConfiguration"),
            self._get_param("HttpEndpointDestinationConfiguration"),
            self._get_param("SnowflakeDestinationConfiguration"),
            self._get_param("IcebergDestinationConfiguration"),
            self._get_param("Tags"),
            **{_OS_CONFIG_ARG: self._get_param("AmazonopensearchserviceDestinationConfiguration")},
        )
        return ActionResult({"DeliveryStreamARN": arn})

    def response_update_destination(self: FirehoseResponse) -> ActionResult:
        self.firehose_backend.update_destination(
            self._get_param("DeliveryStreamName"),
            self._get_param("CurrentDeliveryStreamVersionId"),
            self._get_param("DestinationId"),
            self._get_param("S3DestinationUpdate"),
            self._get_param("ExtendedS3DestinationUpdate"),
            self._get_param("S3BackupMode"),
            self._get_param("RedshiftDestinationUpdate"),
            self._get_param("ElasticsearchDestinationUpdate"),
            self._get_param("SplunkDestinationUpdate"),
            self._get_param("HttpEndpointDestinationUpdate"),
            self._get_param("SnowflakeDestinationConfiguration"),
            self._get_param("IcebergDestinationUpdate"),
            **{_OS_UPDATE_ARG: self._get_param("AmazonopensearchserviceDestinationUpdate")},
        )
        return ActionResult({})

    patch(DeliveryStream, "__init__", stream_init)
    patch(FirehoseBackend, "create_delivery_stream", create_delivery_stream)
    patch(FirehoseBackend, "update_destination", update_destination)
    patch(FirehoseBackend, "put_record_batch", put_record_batch)
    patch(FirehoseBackend, "send_log_event", send_log_event)
    patch(FirehoseResponse, "create_delivery_stream", response_create_delivery_stream)
    patch(FirehoseResponse, "update_destination", response_update_destination)


def put_records(account_id: str, region: str, stream_arn: str, payloads: list[bytes], origin: str) -> None:
    """Deliver ``payloads`` to a stream as AWS services do (failures are swallowed, like AWS)."""
    backend = firehose_backends[account_id][region]
    stream = backend.lookup_name_from_arn(stream_arn)
    if stream is None:
        log.info("Firehose stream %s does not exist; %s records dropped", stream_arn, origin)
        return
    try:
        with deliveries.origin(origin):
            backend.put_record_batch(stream.delivery_stream_name, [{"Data": p} for p in payloads])
    except Exception:
        log.exception("Firehose delivery from %s to %s failed", origin, stream_arn)


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode("utf-8")
    return bytes(data)
