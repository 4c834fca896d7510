"""The one place that builds boto3 clients, and counts every API call as read or write.

Clients follow the AWS CLI's conventions: the default credential chain, ``--profile``,
``--region``, ``--endpoint-url`` (and ``AWS_*`` variables, which boto3 reads itself),
with the standard retry mode so throttling is retried with backoff: ``max_attempts`` (8)
retries after the first try, each retry of a throttled call waiting a random 0..2^n seconds
(at most 20 s). That is the retry budget a throttled account gets before a call fails.

Reads a run makes more than once (every Config rule in one ``DescribeConfigRules``, the
domain's status for two resource kinds) go through :meth:`Aws.read_once` /
:meth:`Aws.pages_once`: the answer is kept until the run's next write call.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

from logpipe.errors import LogpipeError, UsageError

T = TypeVar("T")

# How many calls one run makes at once (the engine's worker threads; see logpipe.engine.graph).
MAX_PARALLEL_CALLS = 32

# Data-plane requests that read although they are POSTs (a body too big for a query string).
_READ_POSTS = ("_search", "_count", "_mget", "_bulk_get", "_field_caps")
_READ_PREFIXES = ("Get", "Describe", "List", "Head", "Lookup", "Search", "Test", "BatchGet", "Check", "Select")


def is_read_request(method: str, path: str) -> bool:
    """Classify a data-plane HTTP request: GET/HEAD, and the POSTs that only read."""
    return method in ("GET", "HEAD") or path.split("?")[0].rstrip("/").endswith(_READ_POSTS)


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

    def record_http(self, service: str, method: str, path: str) -> str:
        """Count a data-plane HTTP request (OpenSearch) the same way; returns 'read' or 'write'."""
        kind = "read" if is_read_request(method, path) else "write"
        with self._lock:
            self.counts[(service, kind)] += 1
            if kind == "write":
                self.writes.append(f"{service}:{method} {path}")
        return kind

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


class ReadCache:
    """Answers to read calls, kept for one run until that run's next write.

    Callers asking the same question at the same time wait for one call (the engine reads
    in parallel). An AWS error is an answer too; anything else (a dropped connection) is
    not kept. Answers are shared: treat them as read-only.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Hashable, Future[Any]] = {}
        self._generation = 0

    def get(self, key: Hashable, fetch: Callable[[], T]) -> T:
        with self._lock:
            future = self._entries.get(key)
            owner = future is None
            if future is None:
                future = self._entries[key] = Future()
            generation = self._generation
        if not owner:
            return future.result()
        try:
            result = fetch()
        except BaseException as exc:
            future.set_exception(exc)
            if not isinstance(exc, ClientError):
                self._forget(key, future)
            raise
        future.set_result(result)
        with self._lock:
            stale = self._generation != generation
        if stale:  # a write happened while this read was in flight
            self._forget(key, future)
        return result

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._generation += 1

    def _forget(self, key: Hashable, future: Future[Any]) -> None:
        with self._lock:
            if self._entries.get(key) is future:
                del self._entries[key]


_LOADER_LOCK = threading.Lock()
_LOADER: botocore.loaders.Loader | None = None


def _shared_loader() -> botocore.loaders.Loader:
    """One loader per process: service models are parsed once, not once per run (tests make many runs)."""
    global _LOADER
    with _LOADER_LOCK:
        if _LOADER is None:
            _LOADER = botocore.loaders.create_loader(os.environ.get("AWS_DATA_PATH"))
        return _LOADER


def _boto3_session(profile: str | None, region: str | None) -> boto3.Session:
    core = botocore.session.get_session()
    loader = _shared_loader()
    core.register_component("data_loader", loader)
    session = boto3.Session(botocore_session=core, profile_name=profile, region_name=region)
    with _LOADER_LOCK:  # boto3 appends its data path to the loader each time
        loader.search_paths[:] = list(dict.fromkeys(loader.search_paths))
    return session


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
            self.session = _boto3_session(profile, region)
        except ProfileNotFound as exc:
            raise UsageError(f"AWS profile not found: {exc.kwargs.get('profile', profile)}") from None
        if not self.session.region_name:
            raise UsageError("no AWS region: pass --region, set region in the config, or set AWS_REGION")
        self.region: str = self.session.region_name
        self.endpoint_url = endpoint_url
        self.counter = counter or CallCounter()
        self._config = BotoConfig(
            retries={"mode": "standard", "max_attempts": max_attempts},
            user_agent_extra="logpipe",
            # As many connections as the engine runs calls at once, so none waits for a free one.
            max_pool_connections=MAX_PARALLEL_CALLS,
        )
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._identity: dict[str, str] | None = None
        self.reads = ReadCache()

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
        if not is_read_operation(model.name):
            self.reads.clear()  # anything read before may have changed

    def read_once(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """``client(service).<operation>(**params)``, asked once per run until the run writes."""
        key = (service, operation, _params_key(params))
        return self.reads.get(key, lambda: getattr(self.client(service), operation)(**params))

    def pages_once(self, service: str, operation: str, result_key: str, **params: Any) -> list[Any]:
        """Every page's ``result_key`` items of a paginated read, asked once per run until the run writes."""

        def fetch() -> list[Any]:
            client = self.client(service)
            if not client.can_paginate(operation):
                return list(getattr(client, operation)(**params).get(result_key) or [])
            return [
                item
                for page in client.get_paginator(operation).paginate(**params)
                for item in page.get(result_key) or []
            ]

        return self.reads.get((service, operation, result_key, _params_key(params)), fetch)

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


def _params_key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def error_message(exc: ClientError) -> str:
    err = exc.response.get("Error", {})
    return f"{err.get('Code', 'Error')}: {err.get('Message', '')}".rstrip(": ")


def describe_client_error(exc: ClientError) -> str:
    """The API and AWS's error, e.g. ``CreateDeliveryStream: ThrottlingException: Rate exceeded``."""
    text = f"{exc.operation_name}: {error_message(exc)}" if exc.operation_name else error_message(exc)
    metadata = exc.response.get("ResponseMetadata") or {}
    if metadata.get("MaxAttemptsReached") or metadata.get("RetryQuotaReached"):
        text += f" (gave up after {int(metadata.get('RetryAttempts', 0)) + 1} attempts)"
    return text
