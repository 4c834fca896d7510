"""EventBridge gaps.

- Pattern matching does not look inside arrays of objects: moto flattens only nested
  objects, so ``{"detail": {"findings": {"ProductArn": [...]}}}`` never matches a Security
  Hub event whose ``detail.findings`` is a list. AWS matches a nested pattern against each
  element of such an array: the event matches when one element matches the whole nested
  pattern (two fields of it are never taken from two different elements, as Event Ruler's
  ``rulesForJSONEvent`` does). The pattern is now walked that way; leaf conditions are still
  moto's, on the leaf's value or, for an array, on its scalar elements ("any of").
- TestEventPattern is a stub in moto (empty response); it now answers ``{"Result": bool}``
  with the same matcher, ``InvalidEventPatternException`` for a bad pattern and
  ``ValidationException`` for an event that is not valid JSON or lacks a required field.
- PutEvents raised NotImplementedError when a matching rule targets a Firehose stream
  (and Lambda); Firehose targets now receive the event (after InputPath/InputTransformer)
  as one record, like AWS; other unsupported targets are skipped instead of failing the
  call. Disabled rules no longer deliver.
"""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

from moto.core.utils import iso_8601_datetime_without_milliseconds, utcfromtimestamp
from moto.events.exceptions import InvalidEventPatternException, ValidationException
from moto.events.models import UNDEFINED, EventPattern, Rule
from moto.events.responses import EventsHandler
from moto.events.utils import EventTemplateParser
from moto.utilities.arns import parse_arn

from . import firehose as firehose_gaps
from ._patching import patch

log = logging.getLogger(__name__)

REQUIRED_EVENT_FIELDS = ("id", "account", "source", "time", "region", "resources", "detail-type")
_MOTO_TARGET_SERVICES = {"logs", "events", "sqs"}


class _Many(list):  # type: ignore[type-arg]
    """The scalar elements of an array value (AWS matches if any of them matches)."""


def _iter_flat(items: list[Any]) -> Any:
    for item in items:
        if isinstance(item, list):
            yield from _iter_flat(item)
        else:
            yield item


def _leaf(value: Any) -> Any:
    """An event value as moto's leaf filters take it: an array as its scalar elements, a non-empty
    object as no value (a pattern leaf never matches an object)."""
    if isinstance(value, list):
        return _Many(v for v in _iter_flat(value) if not isinstance(v, dict))
    if isinstance(value, dict) and value:
        return UNDEFINED
    return value


def _match_node(matcher: EventPattern, pattern: dict[str, Any], node: dict[str, Any]) -> bool:
    """Whether the event object ``node`` matches ``pattern`` (AND across keys)."""
    for key, rule in pattern.items():
        if key == "$or" and isinstance(rule, list):
            ok = any(isinstance(alt, dict) and _match_node(matcher, alt, node) for alt in rule)
        elif isinstance(rule, dict):
            value = node.get(key, UNDEFINED)
            items = list(_iter_flat(value)) if isinstance(value, list) else [value]
            objects = [item for item in items if isinstance(item, dict)]
            # No object there: only conditions on absence (exists: false) can still hold.
            ok = any(_match_node(matcher, rule, obj) for obj in objects or [{}])
        elif isinstance(rule, list):
            ok = matcher._does_item_match_filters(_leaf(node.get(key, UNDEFINED)), rule)
        else:
            ok = False
        if not ok:
            return False
    return True


def matches_event(self: EventPattern, event: Any) -> bool:
    """EventPattern.matches_event, with nested patterns matched element by element."""
    pattern = self.get_pattern()
    if not pattern:
        return True
    parsed = json.loads(json.dumps(event))
    return isinstance(parsed, dict) and _match_node(self, pattern, parsed)


def test_event_pattern(pattern: str | None, event: str | None) -> bool:
    """EventBridge's TestEventPattern."""
    if not pattern:
        raise InvalidEventPatternException(reason="Event pattern must not be empty")
    matcher = EventPattern.load(pattern)
    try:
        parsed = json.loads(event or "")
    except ValueError as exc:
        raise ValidationException("Parameter Event is not valid.") from exc
    if not isinstance(parsed, dict) or any(f not in parsed for f in REQUIRED_EVENT_FIELDS):
        raise ValidationException("Parameter Event is not valid.")
    return matcher.matches_event(parsed)


def _event_for_target(rule: Rule, target: dict[str, Any], event: dict[str, Any]) -> Any:
    if target.get("Input") is not None:
        try:
            return json.loads(target["Input"])
        except ValueError:
            return target["Input"]
    if target.get("InputPath"):
        value: Any = event
        for part in target["InputPath"].lstrip("$").strip(".").split("."):
            if part:
                value = value.get(part) if isinstance(value, dict) else None
        return value
    transformer = target.get("InputTransformer") or {}
    if transformer:
        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,
        )
    return event


def _wire_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event as targets receive it (ISO time, no moto-internal fields)."""
    wire = copy.deepcopy(event)
    wire.pop("ingestion-time", None)
    when = wire.get("time")
    if isinstance(when, (int, float)):
        wire["time"] = iso_8601_datetime_without_milliseconds(utcfromtimestamp(float(when)))
    return wire


def install() -> None:
    orig_send = Rule.send_to_targets

    def send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
        if getattr(self, "state", "ENABLED") == "DISABLED":
            return
        if not self.event_pattern.matches_event(original_event):
            return
        handled_by_moto = []
        for target in self.targets:
            service = parse_arn(target["Arn"]).service
            if service in _MOTO_TARGET_SERVICES:
                handled_by_moto.append(target)
            elif service == "firehose":
                arn = parse_arn(target["Arn"])
                wire = _wire_event(original_event)
                payload = _event_for_target(self, target, wire) if transform_input else wire
                data = payload if isinstance(payload, str) else json.dumps(payload)
                firehose_gaps.put_records(
                    arn.account, arn.region, target["Arn"], [data.encode("utf-8")], f"events:{self.arn}"
                )
            else:
                log.info("EventBridge target %s is not emulated; event not delivered", target["Arn"])
        if handled_by_moto:
            view = copy.copy(self)
            view.targets = handled_by_moto
            orig_send(view, original_event, transform_input)

    def r_test_event_pattern(self: EventsHandler) -> str:
        result = test_event_pattern(self._get_param("EventPattern"), self._get_param("Event"))
        return json.dumps({"Result": result})

    patch(EventPattern, "matches_event", matches_event)
    patch(Rule, "send_to_targets", send_to_targets)
    patch(EventsHandler, "test_event_pattern", r_test_event_pattern)
