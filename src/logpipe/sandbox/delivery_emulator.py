"""Make data flow in the sandbox: what AWS would deliver, run through logpipe's own handlers
into the local OpenSearch.

moto stores pipelines but moves no data (Lambda needs Docker; Firehose has no OpenSearch to
write to). ``moto_gaps.deliveries`` hands us each batch instead; this module then does what
the managed services do:

- Firehose with an OpenSearch destination: runs the stream's processor Lambda (logpipe's
  handler module, with the function's environment), indexes each ``Ok`` record as one
  document into ``IndexName`` plus the rotation suffix, and writes documents OpenSearch
  rejects to the backup bucket, as ``FailedDocumentsOnly`` does.
- CloudWatch Logs subscription to a Lambda function: runs the function's handler.

A handler sees the environment AWS would give it: the function's configured variables (as moto
holds them, so an ``update-function-configuration`` takes effect on the next delivery) and the
runtime's ``AWS_REGION``; a handler setting the function does not configure (say
``FLAT_OBJECT_MODE`` exported in the shell that started the sandbox) is hidden for the
invocation, so the handler falls back to its default as on AWS.

Only logpipe's own handler modules are ever run; anything else is logged and skipped.
"""

from __future__ import annotations

import base64
import importlib
import json
import logging
import os
import threading
import time
import urllib.request
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

_ENV_LOCK = threading.Lock()
#: Every setting logpipe's handlers read from their environment (a test keeps this complete).
HANDLER_SETTINGS = (
    "OPENSEARCH_ENDPOINT",
    "OPENSEARCH_AUTH",
    "INDEX_PREFIX",
    "MAX_BULK_BYTES",
    "FAILED_BUCKET",
    "FAILED_PREFIX",
    "MAX_ATTEMPTS",
    "RETRY_BASE_MS",
    "RETRY_MAX_MS",
    "SAFETY_MARGIN_MS",
    "HTTP_TIMEOUT_S",
    "LOG_FORMAT",
    "FLAT_OBJECT_MODE",
)
_ROTATION_FORMATS = {
    "NoRotation": "",
    "OneHour": "-%Y-%m-%d-%H",
    "OneDay": "-%Y-%m-%d",
    "OneWeek": "-%Y-w%W",
    "OneMonth": "-%Y-%m",
}


def rotated_index(index: str, rotation: str, when: datetime) -> str:
    """Firehose's index name for a rotation period (UTC arrival time)."""
    return index + when.strftime(_ROTATION_FORMATS.get(rotation, ""))


class _LambdaContext:
    def __init__(self, name: str, timeout_seconds: int) -> None:
        self.function_name = name
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = name
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class DeliveryEmulator:
    """A ``moto_gaps`` delivery listener bound to one sandbox's endpoints."""

    def __init__(self, *, opensearch_url: str, user: str, password: str, aws_endpoint_url: str, region: str) -> None:
        self.opensearch_url = opensearch_url.rstrip("/")
        self.aws_endpoint_url = aws_endpoint_url
        self.region = region
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._auth = f"Basic {token}"

    # listener ---------------------------------------------------------------------
    def __call__(self, delivery: Any) -> None:
        service = delivery.target_arn.split(":")[2]
        if service == "firehose":
            self._firehose(delivery)
        elif service == "lambda":
            for payload in delivery.payloads:
                self._invoke(delivery.target_arn, json.loads(payload))

    # Firehose ---------------------------------------------------------------------
    def _firehose(self, delivery: Any) -> None:
        destination = delivery.destination.get("AmazonopensearchserviceDestinationDescription")
        if not destination:
            return
        records = [
            {
                "recordId": str(i),
                "approximateArrivalTimestamp": int(time.time() * 1000),
                "data": base64.b64encode(p).decode(),
            }
            for i, p in enumerate(delivery.payloads)
        ]
        function_arn = _processor_arn(destination)
        if function_arn:
            event = {
                "invocationId": str(uuid.uuid4()),
                "deliveryStreamArn": delivery.target_arn,
                "region": self.region,
                "records": records,
            }
            result = self._invoke(function_arn, event) or {"records": []}
            outputs = result.get("records", [])
        else:
            outputs = [{"recordId": r["recordId"], "result": "Ok", "data": r["data"]} for r in records]
        index = rotated_index(
            destination["IndexName"], destination.get("IndexRotationPeriod", "OneDay"), datetime.now(UTC)
        )
        documents = [base64.b64decode(o["data"]) for o in outputs if o.get("result") == "Ok"]
        failed = [
            {"reason": "processing failed", "rawData": o.get("data")}
            for o in outputs
            if o.get("result") == "ProcessingFailed"
        ]
        failed += self._bulk(index, documents)
        if failed:
            self._park(destination, failed)

    def _bulk(self, index: str, documents: list[bytes]) -> list[dict[str, Any]]:
        if not documents:
            return []
        lines = []
        for doc in documents:
            lines.append(json.dumps({"index": {"_index": index}}).encode())
            lines.append(doc.strip())
        body = b"\n".join(lines) + b"\n"
        request = urllib.request.Request(
            f"{self.opensearch_url}/_bulk?refresh=true",
            data=body,
            method="POST",
            headers={"Content-Type": "application/x-ndjson", "Authorization": self._auth},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        failed = []
        for doc, item in zip(documents, answer.get("items", []), strict=False):
            outcome = next(iter(item.values()))
            if outcome.get("status", 500) >= 300:
                failed.append({"reason": outcome.get("error"), "rawData": base64.b64encode(doc).decode()})
        return failed

    def _park(self, destination: dict[str, Any], failed: list[dict[str, Any]]) -> None:
        s3 = destination.get("S3DestinationDescription") or {}
        bucket = s3.get("BucketARN", "").split(":::")[-1]
        if not bucket:
            log.warning("sandbox: %d failed document(s) and no backup bucket", len(failed))
            return
        import boto3

        key = f"{s3.get('Prefix') or ''}opensearch-failed/{datetime.now(UTC):%Y/%m/%d/%H}/{uuid.uuid4()}"
        body = "\n".join(json.dumps(f, default=str) for f in failed).encode()
        client = boto3.client("s3", region_name=self.region, endpoint_url=self.aws_endpoint_url)
        client.put_object(Bucket=bucket, Key=key, Body=body)

    # Lambda -----------------------------------------------------------------------
    def _invoke(self, function_arn: str, event: dict[str, Any]) -> Any:
        from moto.awslambda.utils import get_backend

        parts = function_arn.split(":")
        account, region = parts[4], parts[3]
        function = get_backend(account, region).get_function(function_arn)
        module_name = (function.handler or "").rsplit(".", 1)[0]
        if not module_name or module_name.startswith("_") or not _is_logpipe_handler(module_name):
            log.warning("sandbox: %s is not a logpipe handler (%s); not run", function_arn, function.handler)
            return None
        module = importlib.import_module(f"logpipe.lambdas.{module_name}")
        # Unset settings stay unset (None), whatever this process's own environment holds.
        env: dict[str, str | None] = dict.fromkeys(HANDLER_SETTINGS)
        env.update(function.environment_vars or {})
        endpoint = env.get("OPENSEARCH_ENDPOINT")
        if endpoint and "://" not in endpoint:
            # The sandbox domain's endpoint is the local stand-in, which speaks plain HTTP.
            env["OPENSEARCH_ENDPOINT"] = f"http://{endpoint}"
        env.update({"AWS_REGION": region, "AWS_DEFAULT_REGION": region, "AWS_ENDPOINT_URL": self.aws_endpoint_url})
        context = _LambdaContext(function.function_name, int(function.timeout or 60))
        with _environment(env):
            return module.handler(event, context)


def _processor_arn(destination: dict[str, Any]) -> str | None:
    config = destination.get("ProcessingConfiguration") or {}
    if not config.get("Enabled"):
        return None
    for processor in config.get("Processors", []):
        if processor.get("Type") == "Lambda":
            for parameter in processor.get("Parameters", []):
                if parameter.get("ParameterName") == "LambdaArn":
                    return parameter["ParameterValue"].split(":$")[0]
    return None


def _is_logpipe_handler(module_name: str) -> bool:
    from logpipe.lambdas.package import LAMBDA_DIR

    return (LAMBDA_DIR / f"{module_name}.py").exists() and module_name != "package"


@contextmanager
def _environment(values: dict[str, str | None]):
    """Handlers read their settings from the environment; one invocation at a time sets it
    (``None``: unset for the invocation)."""
    with _ENV_LOCK:
        saved = {k: os.environ.get(k) for k in values}
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        try:
            yield
        finally:
            for key, old in saved.items():
                if old is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = old
