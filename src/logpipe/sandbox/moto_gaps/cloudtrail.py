"""CloudTrail gaps.

- DeleteTrail by ARN silently does nothing in moto (it only looks the name up). AWS
  accepts a name or an ARN, deletes the trail and its tags, answers
  ``TrailNotFoundException`` for an unknown trail and ``InvalidHomeRegionException`` when
  called outside the trail's home region.
- Event selectors: basic and advanced selectors are exclusive in AWS (putting one kind
  removes the other) and GetEventSelectors returns only the kind in use; a trail that
  never had selectors reports AWS's default (all management events). moto kept both
  kinds, returned an empty ``EventSelectors`` next to advanced ones, and had no default.
"""

from __future__ import annotations

import json
from typing import Any

from moto.cloudtrail.exceptions import TrailNotFoundException
from moto.cloudtrail.models import CloudTrailBackend, Trail, cloudtrail_backends
from moto.cloudtrail.responses import CloudTrailResponse
from moto.core.exceptions import JsonRESTError

from ._patching import patch

DEFAULT_EVENT_SELECTORS: list[dict[str, Any]] = [
    {
        "ReadWriteType": "All",
        "IncludeManagementEvents": True,
        "DataResources": [],
        "ExcludeManagementEventSources": [],
    }
]


class InvalidHomeRegionException(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("InvalidHomeRegionException", message)


def install() -> None:
    orig_put_selectors = Trail.put_event_selectors

    def delete_trail(self: CloudTrailBackend, name: str) -> None:
        trail = self.trails.get(name) or next((t for t in self.trails.values() if t.arn == name), None)
        if trail is None:
            for backend in cloudtrail_backends[self.account_id].values():
                other = backend.trails.get(name) or next((t for t in backend.trails.values() if t.arn == name), None)
                if other is not None and other.is_multi_region:
                    raise InvalidHomeRegionException(
                        f"This operation must be called from the trail's home region ({other.region_name})."
                    )
            raise TrailNotFoundException(account_id=self.account_id, name=name)
        self.trails.pop(trail.trail_name, None)
        self.tagging_service.delete_all_tags_for_resource(trail.arn)

    def put_event_selectors(
        self: Trail, event_selectors: list[dict[str, Any]], advanced_event_selectors: list[dict[str, Any]]
    ) -> None:
        orig_put_selectors(self, event_selectors, advanced_event_selectors)
        if event_selectors:
            self.advanced_event_selectors = []
        elif advanced_event_selectors:
            self.event_selectors = []

    def get_event_selectors(self: Trail) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        if not self.event_selectors and not self.advanced_event_selectors:
            return [dict(s) for s in DEFAULT_EVENT_SELECTORS], []
        return self.event_selectors, self.advanced_event_selectors

    def r_get_event_selectors(self: CloudTrailResponse) -> str:
        params = json.loads(self.body)
        trail_arn, basic, advanced = self.cloudtrail_backend.get_event_selectors(trail_name=params.get("TrailName"))
        result: dict[str, Any] = {"TrailARN": trail_arn}
        if advanced:
            result["AdvancedEventSelectors"] = advanced
        else:
            result["EventSelectors"] = basic
        return json.dumps(result)

    patch(CloudTrailBackend, "delete_trail", delete_trail)
    patch(Trail, "put_event_selectors", put_event_selectors)
    patch(Trail, "get_event_selectors", get_event_selectors)
    patch(CloudTrailResponse, "get_event_selectors", r_get_event_selectors)
