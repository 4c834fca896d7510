"""EventBridge gaps.

- Pattern matching does not look inside arrays of objects: moto flattens only nested
  objects, so ``{"detail": {"findings": {"ProductArn": [...]}}}`` never matches a Security
  Hub event whose ``detail.findings`` is a list. AWS flattens arrays: a pattern field
  matches when any element's value matches. The flattener now collects the values of every
  element into one list, which moto's matcher already treats as "any of".
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
from moto.events.models import EventPattern, Rule
from moto.events.responses import EventsHandler
from moto.events.utils import EventTemplateParser
from moto.utilities.arns import parse_arn

from . import firehose as firehose_gaps
from ._patching import patch

log = logging.getLogger(__name__)

REQUIRED_EVENT_FIELDS = ("id", "account", "source", "time", "region", "resources", "detail-type")
_MOTO_TARGET_SERVICES = {"logs", "events", "sqs"}


class _Many(list):  # type: ignore[type-arg]
    """Values gathered from the elements of an array (AWS matches if any element matches)."""


def _add(result: dict[str, Any], key: str, value: Any, in_array: bool) -> None:
    if not in_array:
        result[key] = value
        return
    bucket = result.get(key)
    if not isinstance(bucket, _Many):
        bucket = _Many()
        result[key] = bucket
    if isinstance(value, list):
        bucket.extend(value)
    else:
        bucket.append(value)


def flatten_event(
    node: Any, prefix: str = "", result: dict[str, Any] | None = None, in_array: bool = False
) -> dict[str, Any]:
    """Flatten an event to ``{"a.b.c": value}``, descending into arrays of objects."""
    if result is None:
        result = {}
    if not isinstance(node, dict):
        return result
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and value:
            flatten_event(value, path, result, in_array)
        elif isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
            for item in _iter_flat(value):
                if isinstance(item, dict):
                    if item:
                        flatten_event(item, path, result, True)
                else:
                    _add(result, path, item, True)
        else:
            _add(result, path, value, in_array)
    return result


def _iter_flat(items: list[Any]) -> Any:
    for item in items:
        if isinstance(item, list):
            yield from _iter_flat(item)
        else:
            yield item


def _flatten_dict(node: Any, prefix: str = "", result: dict[str, Any] | None = None) -> dict[str, Any]:
    return flatten_event(node, prefix, result)


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

    patch(EventPattern, "_flatten_dict", staticmethod(_flatten_dict))
    patch(Rule, "send_to_targets", send_to_targets)
    patch(EventsHandler, "test_event_pattern", r_test_event_pattern)
