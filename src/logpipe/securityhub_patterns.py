"""Security Hub products, the EventBridge patterns that route imported findings, and a matcher.

Security Hub puts one ``Security Hub Findings - Imported`` event (source ``aws.securityhub``)
on the default bus per imported finding; ``detail.findings`` is an *array* holding the ASFF
finding. logpipe routes on that finding's ``ProductArn``:

* a product rule matches its product's ARN with the region as a wildcard
  (``arn:aws:securityhub:*::product/aws/guardduty``). With cross-region aggregation the
  findings of linked regions reach the aggregation region with their own region in
  ``ProductArn``; an exact ARN would drop them.
* the catch-all rule matches ``anything-but`` the same wildcards: every finding no product rule
  takes (Security Hub's own controls, Inspector, Macie, partner and custom products). Both
  sides are built from the same strings, so each event Security Hub sends (one finding) matches
  exactly one rule. EventBridge cannot say "every element": an event with several findings (which
  Security Hub does not send) reaches each rule one of them matches, and each stream's transform
  parks it whole; a finding without ``ProductArn`` (which Security Hub refuses) matches none.

The matcher implements EventBridge's semantics for exactly the operators these rules use (exact
values, ``wildcard``, ``anything-but`` with ``wildcard``), so the rules can be checked against
real events without AWS: moto's own matcher cannot look inside ``detail.findings[]``. Any other
operator is refused rather than guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

FINDINGS_SOURCE = "aws.securityhub"
FINDINGS_IMPORTED = "Security Hub Findings - Imported"

_PRODUCT_ARN = re.compile(
    r"^arn:([a-z0-9-]+):securityhub:[a-z0-9-]*:(\d{0,12}):product/([A-Za-z0-9._-]+)/([A-Za-z0-9._-]+)$"
)


def product_arn(product: str, *, partition: str, region: str) -> str:
    """``guardduty`` → ``arn:aws:securityhub:<region>::product/aws/guardduty``; an ARN is kept as it is."""
    if product.startswith("arn:"):
        return product
    return f"arn:{partition}:securityhub:{region}::product/aws/{product}"


def product_key(product: str) -> str:
    """The short name used in resource and index names: ``guardduty``; ``<company>-<product>`` for others.

    AWS's own products (``product/aws/<name>``) keep their bare name so the lab's names hold.
    """
    if not product.startswith("arn:"):
        return product
    match = _PRODUCT_ARN.match(product)
    if match is None:
        raise ValueError(f"not a Security Hub product ARN: {product!r}")
    company, name = (part.lower().replace(".", "-").replace("_", "-") for part in match.groups()[2:])
    return name if company == "aws" else f"{company}-{name}"


def product_arn_problem(product: str, *, partition: str) -> str | None:
    """Why a configured product can never match this account's findings, or None.

    The region of a configured ARN does not matter: rules match the product in every region.
    """
    if not product.startswith("arn:"):
        return None
    match = _PRODUCT_ARN.match(product)
    if match is None:
        return f"{product!r} is not a Security Hub product ARN (arn:<partition>:securityhub:<region>:...:product/...)"
    if match[1] != partition:
        return (
            f"product ARN {product} is in partition {match[1]!r}; this account's findings carry "
            f"{partition!r} ARNs, so this rule would never match"
        )
    return None


def product_arn_wildcard(product: str, *, partition: str) -> str:
    """The product's ARN in every region, as an EventBridge wildcard:
    ``arn:aws:securityhub:*::product/aws/guardduty``.

    Only the region is a wildcard: partition, account (empty for AWS's products, the partner's or
    your own for the others) and ``product/<company>/<name>`` stay exact.
    """
    arn = product_arn(product, partition=partition, region="")
    parts = arn.split(":", 5)
    return ":".join(_wildcard_literal(part) if i != 3 else "*" for i, part in enumerate(parts))


def _wildcard_literal(text: str) -> str:
    # In a wildcard pattern "*" and "\" are special; product ARNs never hold them, but stay exact if one did.
    return text.replace("\\", "\\\\").replace("*", "\\*")


def _imported(product_arn_rule: list[Any]) -> dict[str, Any]:
    return {
        "source": [FINDINGS_SOURCE],
        "detail-type": [FINDINGS_IMPORTED],
        "detail": {"findings": {"ProductArn": product_arn_rule}},
    }


def findings_pattern(arn_wildcards: list[str]) -> dict[str, Any]:
    """The event pattern for imported findings of the given products (wildcards, see above)."""
    if not arn_wildcards:
        raise ValueError("a product rule needs at least one product")
    return _imported([{"wildcard": pattern} for pattern in arn_wildcards])


def other_findings_pattern(arn_wildcards: list[str]) -> dict[str, Any]:
    """The catch-all: imported findings whose ``ProductArn`` matches none of ``arn_wildcards``.

    ``anything-but`` takes one wildcard or a list of them; a list of separate ``anything-but``
    objects would be OR-ed by EventBridge and match everything.
    """
    if not arn_wildcards:
        raise ValueError("the catch-all needs the product rules' wildcards")
    excluded: str | list[str] = arn_wildcards[0] if len(arn_wildcards) == 1 else list(arn_wildcards)
    return _imported([{"anything-but": {"wildcard": excluded}}])


# matching -----------------------------------------------------------------------------


class UnsupportedPattern(ValueError):
    """The pattern uses something this matcher does not implement, or that EventBridge rejects."""


Predicate = Callable[[Any], bool]


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """Whether EventBridge would deliver ``event`` to a rule with ``pattern``.

    - Every field named in the pattern must be present, with the same nesting (AND across keys).
    - A leaf is a non-empty list of conditions; any of them may match (OR). A plain value compares
      by JSON type and value: ``"5"`` does not match ``5``; ``null`` matches only ``null``.
    - ``{"wildcard": "a*b"}``: a string matching the pattern, ``*`` standing for any run of
      characters (none included); ``\\*`` and ``\\\\`` are a literal star and backslash.
    - ``{"anything-but": {"wildcard": p | [p, ...]}}``: a value, present, that none of the
      wildcards match. A missing field matches no condition but ``exists: false``, which this
      matcher does not implement.
    - An array in the event matches when any of its elements matches: scalar arrays element by
      element, arrays of objects by any element matching the nested pattern (so the fields of
      one nested pattern are read from the same element).
    """
    if not isinstance(pattern, dict) or not pattern:
        raise UnsupportedPattern("an event pattern is a non-empty JSON object")
    # Conditions are compiled before matching, so a pattern EventBridge would reject fails on any event.
    check = _compile_object(pattern)
    return isinstance(event, dict) and check(event)


def _compile_object(pattern: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    checks = [(key, _compile(rule)) for key, rule in pattern.items()]
    return lambda node: all(key in node and check(node[key]) for key, check in checks)


def _compile(rule: Any) -> Predicate:
    """A pattern field's value (nested object or list of conditions) → test of the event's value."""
    if isinstance(rule, dict):
        if not rule:
            raise UnsupportedPattern("an empty object in an event pattern matches nothing; AWS rejects it")
        nested = _compile_object(rule)
        # The event value must be an object, or an array holding one that matches.
        return lambda value: any(nested(item) for item in _elements(value) if isinstance(item, dict))
    if isinstance(rule, list):
        if not rule:
            raise UnsupportedPattern("a pattern field needs at least one value")
        conditions = [_condition(allowed) for allowed in rule]
        return lambda value: any(c(leaf) for leaf in _leaves(value) for c in conditions)
    raise UnsupportedPattern(f"a pattern field's value must be a list or an object, got {rule!r}")


def _condition(allowed: Any) -> Predicate:
    """One entry of a leaf's list: a plain value or a content-filter operator."""
    if isinstance(allowed, list):
        raise UnsupportedPattern(f"a list inside a pattern's value list is not a condition: {allowed!r}")
    if not isinstance(allowed, dict):
        return lambda value: _same_scalar(allowed, value)
    if len(allowed) != 1:
        raise UnsupportedPattern(f"an operator object has exactly one key, got {allowed!r}")
    ((operator, argument),) = allowed.items()
    if operator == "wildcard":
        glob = _wildcard(argument)
        return lambda value: isinstance(value, str) and glob(value)
    if operator == "anything-but":
        excluded = _anything_but(argument)
        return lambda value: not excluded(value)
    raise UnsupportedPattern(f"operator {operator!r} is not implemented by this matcher")


def _anything_but(argument: Any) -> Predicate:
    """What ``anything-but`` excludes; only its ``wildcard`` form is implemented."""
    if not (isinstance(argument, dict) and list(argument) == ["wildcard"]):
        raise UnsupportedPattern(f"anything-but {argument!r} is not implemented by this matcher (only wildcard)")
    patterns = argument["wildcard"]
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, list) or not patterns:
        raise UnsupportedPattern("anything-but wildcard takes a string or a non-empty list of strings")
    globs = [_wildcard(p) for p in patterns]
    return lambda value: isinstance(value, str) and any(glob(value) for glob in globs)


def _wildcard(pattern: Any) -> Predicate:
    """A wildcard pattern as EventBridge reads it, compiled to a full-string test."""
    if not isinstance(pattern, str):
        raise UnsupportedPattern(f"a wildcard pattern is a string, got {pattern!r}")
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            escaped = pattern[i + 1 : i + 2]
            if escaped not in ("*", "\\"):
                raise UnsupportedPattern(f"in wildcard {pattern!r} a backslash may only escape * or \\")
            parts.append(re.escape(escaped))
            i += 2
            continue
        if char == "*":
            if parts and parts[-1] == ".*":
                raise UnsupportedPattern(f"wildcard {pattern!r} has consecutive wildcard characters")
            parts.append(".*")
        else:
            parts.append(re.escape(char))
        i += 1
    regex = re.compile("".join(parts), re.DOTALL)
    return lambda value: regex.fullmatch(value) is not None


def _elements(value: Any) -> list[Any]:
    """An event value as the list of things a pattern is compared with (arrays are flattened)."""
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            out.extend(_elements(item))
        return out
    return [value]


def _leaves(value: Any) -> list[Any]:
    """The JSON values a leaf condition can match: an object is not one (``anything-but`` included)."""
    return [item for item in _elements(value) if not isinstance(item, dict)]


def _same_scalar(allowed: Any, actual: Any) -> bool:
    if allowed is None or actual is None:
        return allowed is None and actual is None
    if isinstance(allowed, bool) or isinstance(actual, bool):
        return isinstance(allowed, bool) and isinstance(actual, bool) and allowed == actual
    if isinstance(allowed, (int, float)) and isinstance(actual, (int, float)):
        return float(allowed) == float(actual)
    return type(allowed) is type(actual) and allowed == actual
