"""The one place that builds boto3 clients, and counts every API call as read or write.

Clients follow the AWS CLI's conventions: the default credential chain, ``--profile``,
``--region``, ``--endpoint-url`` (and ``AWS_*`` variables, which boto3 reads itself),
with the standard retry mode so throttling is retried with backoff.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

from logpipe.errors import LogpipeError, UsageError

_READ_PREFIXES = ("Get", "Describe", "List", "Head", "Lookup", "Search", "Test", "BatchGet", "Check", "Select")


def is_read_operation(operation: str) -> bool:
    """Classify an API operation by name: AWS read APIs all start with one of a few verbs."""
    return operation.startswith(_READ_PREFIXES)


@dataclass
class CallCounter:
    """Thread-safe tally of API calls, keyed by (service, 'read' | 'write')."""

    counts: Counter = field(default_factory=Counter)
    writes: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, service: str, operation: str) -> None:
        kind = "read" if is_read_operation(operation) else "write"
        with self._lock:
            self.counts[(service, kind)] += 1
            if kind == "write":
                self.writes.append(f"{service}:{operation}")

    def record_http(self, service: str, method: str, path: str) -> None:
        """Count a data-plane HTTP request (OpenSearch) the same way."""
        kind = "read" if method in ("GET", "HEAD") or path.rstrip("/").endswith(("_search", "_count")) else "write"
        with self._lock:
            self.counts[(service, kind)] += 1
            if kind == "write":
                self.writes.append(f"{service}:{method} {path}")

    def total(self, kind: str) -> int:
        with self._lock:
            return sum(n for (_, k), n in self.counts.items() if k == kind)

    def by_service(self) -> dict[str, dict[str, int]]:
        with self._lock:
            out: dict[str, dict[str, int]] = {}
            for (service, kind), n in sorted(self.counts.items()):
                out.setdefault(service, {"read": 0, "write": 0})[kind] = n
            return out

    def summary(self) -> dict[str, Any]:
        with self._lock:
            writes = list(self.writes)
        return {
            "read": self.total("read"),
            "write": self.total("write"),
            "by_service": self.by_service(),
            "write_calls": writes,
        }


class Aws:
    """boto3 session + cached clients for one command run."""

    def __init__(
        self,
        *,
        profile: str | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        counter: CallCounter | None = None,
        max_attempts: int = 8,
    ) -> None:
        try:
            self.session = boto3.Session(profile_name=profile, region_name=region)
        except ProfileNotFound as exc:
            raise UsageError(f"AWS profile not found: {exc.kwargs.get('profile', profile)}") from None
        if not self.session.region_name:
            raise UsageError("no AWS region: pass --region, set region in the config, or set AWS_REGION")
        self.region: str = self.session.region_name
        self.endpoint_url = endpoint_url
        self.counter = counter or CallCounter()
        self._config = BotoConfig(
            retries={"mode": "standard", "max_attempts": max_attempts}, user_agent_extra="logpipe"
        )
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._identity: dict[str, str] | None = None

    def client(self, service: str) -> Any:
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                client = self.session.client(
                    service, region_name=self.region, endpoint_url=self.endpoint_url, config=self._config
                )
                client.meta.events.register("before-call", self._count)
                self._clients[service] = client
            return client

    def _count(self, model: Any, **_: Any) -> None:
        self.counter.record(model.service_model.endpoint_prefix, model.name)

    def identity(self) -> dict[str, str]:
        """STS caller identity, cached; a clear error when there are no credentials."""
        if self._identity is None:
            try:
                self._identity = self.client("sts").get_caller_identity()
            except NoCredentialsError:
                raise UsageError(
                    "no AWS credentials found: configure a profile (aws configure), pass --profile, "
                    "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or use --sandbox"
                ) from None
            except ClientError as exc:
                raise LogpipeError(f"AWS credentials were rejected: {error_message(exc)}") from None
            except BotoCoreError as exc:
                raise LogpipeError(f"cannot reach AWS STS: {exc}") from None
        return self._identity

    @property
    def account_id(self) -> str:
        return self.identity()["Account"]

    @property
    def partition(self) -> str:
        return self.identity()["Arn"].split(":")[1]

    def credentials(self) -> Any:
        return self.session.get_credentials()


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def error_message(exc: ClientError) -> str:
    err = exc.response.get("Error", {})
    return f"{err.get('Code', 'Error')}: {err.get('Message', '')}".rstrip(": ")
