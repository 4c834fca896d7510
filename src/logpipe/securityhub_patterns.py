"""Security Hub products, the EventBridge pattern that selects one product's findings, and a matcher.

Security Hub puts one ``Security Hub Findings - Imported`` event (source ``aws.securityhub``)
on the default bus per imported finding; ``detail.findings`` is an *array* holding the ASFF
finding. logpipe routes each product to its own stream by matching the finding's
``ProductArn`` inside that array.

The matcher implements EventBridge's semantics for the operators logpipe writes (exact value
lists), so the pattern can be checked against real events without AWS: moto's own matcher
cannot look inside ``detail.findings[]``. Any other operator is refused rather than guessed.
"""

from __future__ import annotations

import re
from typing import Any

FINDINGS_SOURCE = "aws.securityhub"
FINDINGS_IMPORTED = "Security Hub Findings - Imported"

_PRODUCT_ARN = re.compile(
    r"^arn:[a-z0-9-]+:securityhub:[a-z0-9-]*:\d{0,12}:product/([A-Za-z0-9._-]+)/([A-Za-z0-9._-]+)$"
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
    company, name = (part.lower().replace(".", "-").replace("_", "-") for part in match.groups())
    return name if company == "aws" else f"{company}-{name}"


def product_arn_problem(product: str, *, region: str) -> str | None:
    """Why a configured product can never match this region's findings, or None."""
    if not product.startswith("arn:"):
        return None
    if _PRODUCT_ARN.match(product) is None:
        return f"{product!r} is not a Security Hub product ARN (arn:<partition>:securityhub:<region>:...:product/...)"
    arn_region = product.split(":")[3]
    if arn_region != region:
        return (
            f"product ARN {product} is for region {arn_region!r}; findings imported in {region} carry "
            f"{region} product ARNs, so this rule would never match"
        )
    return None


def findings_pattern(product_arns: list[str]) -> dict[str, Any]:
    """The event pattern for imported findings of the given products (and nothing else)."""
    return {
        "source": [FINDINGS_SOURCE],
        "detail-type": [FINDINGS_IMPORTED],
        "detail": {"findings": {"ProductArn": list(product_arns)}},
    }


# matching -----------------------------------------------------------------------------


class UnsupportedPattern(ValueError):
    """The pattern uses something this matcher does not implement (it never guesses)."""


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """Whether EventBridge would deliver ``event`` to a rule with ``pattern``.

    - Every field named in the pattern must be present, with the same nesting (AND across keys).
    - A leaf is a non-empty list of values; any of them may match (OR). Values compare by
      JSON type and value: ``"5"`` does not match ``5``; ``null`` matches only ``null``.
    - An array in the event matches when any of its elements matches: scalar arrays by
      intersection, arrays of objects by any element matching the nested pattern (so the
      fields of one nested pattern are read from the same element).
    """
    if not isinstance(pattern, dict) or not pattern:
        raise UnsupportedPattern("an event pattern is a non-empty JSON object")
    if not isinstance(event, dict):
        return False
    return _match_object(pattern, event)


def _match_object(pattern: dict[str, Any], node: dict[str, Any]) -> bool:
    for key, rule in pattern.items():
        if key not in node:
            return False
        if not _match_value(rule, node[key]):
            return False
    return True


def _match_value(rule: Any, value: Any) -> bool:
    if isinstance(rule, dict):
        if not rule:
            raise UnsupportedPattern("an empty object in an event pattern matches nothing; AWS rejects it")
        # Nested pattern: the event value must be an object, or an array holding one that matches.
        return any(_match_object(rule, item) for item in _elements(value) if isinstance(item, dict))
    if isinstance(rule, list):
        if not rule:
            raise UnsupportedPattern("a pattern field needs at least one value")
        for allowed in rule:
            if isinstance(allowed, (dict, list)):
                raise UnsupportedPattern(f"operator {allowed!r} is not implemented by this matcher")
        return any(_same_scalar(allowed, item) for item in _elements(value) for allowed in rule)
    raise UnsupportedPattern(f"a pattern field's value must be a list or an object, got {rule!r}")


def _elements(value: Any) -> list[Any]:
    """An event value as the list of things a pattern is compared with (arrays are flattened)."""
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            out.extend(_elements(item))
        return out
    return [value]


def _same_scalar(allowed: Any, actual: Any) -> bool:
    if isinstance(actual, (dict, list)):
        return False
    if allowed is None or actual is None:
        return allowed is None and actual is None
    if isinstance(allowed, bool) or isinstance(actual, bool):
        return isinstance(allowed, bool) and isinstance(actual, bool) and allowed == actual
    if isinstance(allowed, (int, float)) and isinstance(actual, (int, float)):
        return float(allowed) == float(actual)
    return type(allowed) is type(actual) and allowed == actual
