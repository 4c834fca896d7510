"""Small helpers every resource kind uses: tag shapes, not-found checks, propagation retries."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import ClientError

from logpipe.aws import error_code

T = TypeVar("T")


def is_not_found(exc: ClientError, *extra_codes: str) -> bool:
    code = error_code(exc)
    return code in {
        "ResourceNotFoundException",
        "NoSuchEntity",
        "NotFoundException",
        "NoSuchBucket",
        "404",
        *extra_codes,
    }


def tag_list(tags: dict[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in sorted(tags.items())]


def tag_dict(tags: list[dict[str, str]] | None, key: str = "Key", value: str = "Value") -> dict[str, str]:
    return {t[key]: t[value] for t in tags or []}


def json_doc(value: str | dict | None) -> dict | None:
    """Policy documents come back as JSON text (sometimes URL-encoded); compare them as data."""
    if value is None or isinstance(value, dict):
        return value
    from urllib.parse import unquote

    text = value if value.lstrip().startswith("{") else unquote(value)
    return json.loads(text)


def retry_while(
    call: Callable[[], T],
    retryable: Callable[[ClientError], bool],
    *,
    timeout: float = 90.0,
    first_delay: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Retry ``call`` while AWS reports a propagation delay (a new IAM role not yet assumable, ...)."""
    deadline = time.monotonic() + timeout
    delay = first_delay
    while True:
        try:
            return call()
        except ClientError as exc:
            if not retryable(exc) or time.monotonic() + delay > deadline:
                raise
            sleep(delay)
            delay = min(delay * 2, 10.0)


def wait_for(
    check: Callable[[], bool],
    *,
    what: str,
    timeout: float = 300.0,
    interval: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {int(timeout)} s waiting for {what}")
        sleep(interval)


def desired_tags_view(observed: dict[str, str], want: dict[str, str]) -> dict[str, str]:
    """Compare only the tag keys logpipe sets: others' tags on a resource are not drift."""
    return {k: observed[k] for k in want if k in observed}
