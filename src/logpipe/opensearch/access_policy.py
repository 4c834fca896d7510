"""The domain access policy statements logpipe owns, and merging them into someone else's policy.

logpipe's statements carry a ``Sid`` starting ``logpipe-``; every other statement in the
domain's policy belongs to someone else and is kept exactly as it is.

Modes (``opensearch.access_policy``):

* ``account`` (default): only signed requests from this account's IAM principals reach the
  domain's HTTP API (``es:ESHttp*``); fine-grained access control then decides what each may do.
* ``ip``: the same, plus unsigned HTTP requests from ``allowed_cidrs`` (for a browser on
  Dashboards with the internal user database).
* ``open``: the lab's ``Principal: *`` / ``es:*`` statement. Anyone on the internet reaches the
  endpoint; only fine-grained access control stands in between, so preflight refuses it without.
"""

from __future__ import annotations

import json
from typing import Any

SID_PREFIX = "logpipe-"
VERSION = "2012-10-17"


def logpipe_statements(
    mode: str, *, domain_arn: str, account_id: str, partition: str, cidrs: list[str] | tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """The statements logpipe wants in the domain's policy for ``mode``."""
    resource = f"{domain_arn}/*"
    if mode == "open":
        return [
            {
                "Sid": f"{SID_PREFIX}open",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "es:*",
                "Resource": resource,
            }
        ]
    statements = [
        {
            "Sid": f"{SID_PREFIX}account",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
            "Action": "es:ESHttp*",
            "Resource": resource,
        }
    ]
    if mode == "ip":
        statements.append(
            {
                "Sid": f"{SID_PREFIX}ip",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "es:ESHttp*",
                "Resource": resource,
                "Condition": {"IpAddress": {"aws:SourceIp": sorted(cidrs)}},
            }
        )
    return statements


def parse(text: str | None) -> dict[str, Any]:
    """The domain's policy as a document; an empty or missing policy is an empty statement list."""
    if not text or not text.strip():
        return {"Version": VERSION, "Statement": []}
    doc = json.loads(text)
    statements = doc.get("Statement", [])
    # A policy may hold a single statement object instead of a list.
    doc["Statement"] = statements if isinstance(statements, list) else [statements]
    return doc


def is_ours(statement: dict[str, Any]) -> bool:
    return str(statement.get("Sid", "")).startswith(SID_PREFIX)


def ours(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [canonical(s) for s in doc["Statement"] if is_ours(s)]


def others(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in doc["Statement"] if not is_ours(s)]


def merged(doc: dict[str, Any], wanted: list[dict[str, Any]]) -> dict[str, Any]:
    """``doc`` with logpipe's statements replaced by ``wanted``; others' statements keep their place."""
    return {**doc, "Version": doc.get("Version", VERSION), "Statement": [*others(doc), *wanted]}


def render(doc: dict[str, Any]) -> str:
    """The text sent to UpdateDomainConfig: an empty string when no statement is left (no policy)."""
    if not doc["Statement"]:
        return ""
    return json.dumps(doc, separators=(",", ":"))


def canonical(statement: dict[str, Any]) -> dict[str, Any]:
    """A statement in a comparable form: AWS may return one-item lists as scalars and vice versa."""

    def fold(value: Any) -> Any:
        if isinstance(value, list):
            items = [fold(v) for v in value]
            return items[0] if len(items) == 1 else sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
        if isinstance(value, dict):
            return {k: fold(v) for k, v in sorted(value.items())}
        return value

    out = fold(statement)
    # "Principal": "*" and {"AWS": "*"} mean the same to IAM.
    if out.get("Principal") == "*":
        out["Principal"] = {"AWS": "*"}
    return out


def anonymous_statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Others' Allow statements open to any principal without a condition (the lab's open policy)."""
    found = []
    for statement in others(doc):
        principal = canonical(statement).get("Principal")
        if statement.get("Effect") == "Allow" and principal == {"AWS": "*"} and not statement.get("Condition"):
            found.append(statement)
    return found


def same_statements(a: dict[str, Any], b: dict[str, Any]) -> bool:
    key = lambda s: json.dumps(canonical(s), sort_keys=True)  # noqa: E731 - a one-line sort key
    return sorted(map(key, a["Statement"])) == sorted(map(key, b["Statement"]))
