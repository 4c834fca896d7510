"""Small helpers every resource kind uses: tag shapes, not-found checks; waits live in ``waiting``."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from logpipe.aws import error_code
from logpipe.resources.waiting import retry_while, wait_for, wait_until  # noqa: F401 - re-exported


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


def desired_tags_view(observed: dict[str, str], want: dict[str, str]) -> dict[str, str]:
    """Compare only the tag keys logpipe sets: others' tags on a resource are not drift."""
    return {k: observed[k] for k in want if k in observed}
