"""A throttled account, on demand: calls are refused as AWS refuses them under load.

AWS answers ``ThrottlingException`` (HTTP 400; Lambda: ``TooManyRequestsException``, HTTP 429)
when an account calls an API faster than its rate allows, and the SDKs retry with backoff.
moto never does. :func:`throttle` makes the first ``times`` attempts of every distinct
request (same API, same body) fail that way; a retry sends the same request, so each call
goes through on attempt ``times + 1``. ``operations`` limits it to some APIs (e.g.
``{"CreateDeliveryStream"}``). :func:`stop` ends it. Only JSON-protocol services are
throttled (their error bodies are JSON; the XML ones, IAM, EC2, S3, STS, are left alone).
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.core.responses import BaseResponse
from moto.core.utils import get_service_model

from ._patching import before_action

_lock = threading.Lock()
_state: dict[str, Any] = {"times": 0, "operations": None}
_attempts: dict[str, int] = {}
_refused: list[str] = []


class _TooManyRequests(JsonRESTError):
    code = 429


def throttle(times: int, operations: set[str] | None = None) -> None:
    """Refuse the first ``times`` attempts of each request (of ``operations`` only, if given)."""
    with _lock:
        _state.update({"times": times, "operations": set(operations) if operations else None})
        _attempts.clear()
        _refused.clear()


def stop() -> None:
    throttle(0)


def refused() -> list[str]:
    """The API names refused so far, one entry per refusal."""
    with _lock:
        return list(_refused)


def _json_protocol(response: BaseResponse) -> bool:
    try:
        return get_service_model(response.boto3_service_name).protocol in ("json", "rest-json")
    except Exception:
        return False


def _maybe_refuse(response: BaseResponse) -> None:
    with _lock:
        times, operations = _state["times"], _state["operations"]
    if times <= 0:
        return
    operation = response._get_action()
    if not operation or (operations is not None and operation not in operations) or not _json_protocol(response):
        return
    raw = response.body if isinstance(response.body, bytes) else str(response.body or "").encode()
    key = hashlib.sha256(b"|".join([operation.encode(), response.path.encode(), raw])).hexdigest()
    with _lock:
        seen = _attempts.get(key, 0)
        if seen >= times:
            return
        _attempts[key] = seen + 1
        _refused.append(operation)
    if response.boto3_service_name == "lambda":
        raise _TooManyRequests("TooManyRequestsException", "Rate exceeded")
    raise JsonRESTError("ThrottlingException", "Rate exceeded")


def install() -> None:
    before_action(BaseResponse, "*", _maybe_refuse)
