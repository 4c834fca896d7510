"""Records that moto would deliver to a target, made observable instead of executed.

moto runs Lambda targets in Docker and drops data sent to OpenSearch destinations. The
patches hand such payloads to this module instead: it keeps the recent ones and calls
listeners, so the sandbox can forward them (for example, to a local OpenSearch) and tests
can assert on them. A failing listener is logged and never fails the AWS call.
"""

from __future__ import annotations

import contextvars
import gzip
import io
import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ._patching import ACTIONS

log = logging.getLogger(__name__)

MAX_KEPT = 1000


@dataclass(frozen=True)
class Delivery:
    """One batch of records delivered to a target.

    ``target_arn``: the Firehose stream or Lambda function.
    ``origin``: what sent it: ``firehose:PutRecordBatch``, ``events:<rule ARN>``,
    ``logs:<log group>/<filter name>``.
    ``payloads``: the raw records (for Lambda, the JSON invocation event).
    ``destination``: for Firehose, the destination description as DescribeDeliveryStream
    shows it (e.g. ``{"AmazonopensearchserviceDestinationDescription": {...}}``).
    """

    target_arn: str
    origin: str
    payloads: tuple[bytes, ...]
    destination: dict[str, object] = field(default_factory=dict)


Listener = Callable[[Delivery], None]

_listeners: list[Listener] = []
_recent: deque[Delivery] = deque(maxlen=MAX_KEPT)
_lock = threading.Lock()
_origin: contextvars.ContextVar[str | None] = contextvars.ContextVar("logpipe_delivery_origin", default=None)


def add_delivery_listener(listener: Listener) -> None:
    """Call ``listener`` with every future :class:`Delivery`."""
    with _lock:
        if listener not in _listeners:
            _listeners.append(listener)


def remove_delivery_listener(listener: Listener) -> None:
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


def recent_deliveries(target_arn: str | None = None) -> list[Delivery]:
    """The last deliveries (oldest first), optionally only those to ``target_arn``."""
    with _lock:
        items = list(_recent)
    return [d for d in items if target_arn is None or d.target_arn == target_arn]


def clear_deliveries() -> None:
    with _lock:
        _recent.clear()


def publish(delivery: Delivery) -> None:
    with _lock:
        _recent.append(delivery)
        listeners = list(_listeners)
    # Listeners run the handlers, which may call moto again from another thread: let other actions in.
    with ACTIONS.suspended():
        for listener in listeners:
            try:
                listener(delivery)
            except Exception:  # a listener must never break the emulated AWS call
                log.exception("moto_gaps delivery listener %r failed", listener)


def current_origin(default: str) -> str:
    return _origin.get() or default


@contextmanager
def origin(name: str) -> Iterator[None]:
    """Label deliveries made inside the block (e.g. by EventBridge) with ``name``."""
    token = _origin.set(name)
    try:
        yield
    finally:
        _origin.reset(token)


def cloudwatch_logs_payload(
    account_id: str, log_group: str, log_stream: str, filter_name: str, log_events: list[dict[str, Any]]
) -> bytes:
    """What a subscription filter delivers: the gzipped JSON ``DATA_MESSAGE`` payload."""
    data = {
        "messageType": "DATA_MESSAGE",
        "owner": account_id,
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": [filter_name],
        "logEvents": log_events,
    }
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="w") as fh:
        fh.write(json.dumps(data, separators=(",", ":")).encode("utf-8"))
    return buffer.getvalue()
