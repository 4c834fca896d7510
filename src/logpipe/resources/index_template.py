"""An OpenSearch composable index template (``_index_template``), owned through ``_meta.managed-by``."""

from __future__ import annotations

import copy
from typing import Any

from logpipe.engine.context import Context
from logpipe.engine.model import Observed, Resource
from logpipe.opensearch.client import path_part
from logpipe.opensearch.resource_base import DataPlaneResource

OWNER_KEY = "managed-by"
OWNER_VALUE = "logpipe"


def _view(template: dict[str, Any], keys: dict[str, Any]) -> dict[str, Any]:
    """``template`` limited to the keys logpipe sets (OpenSearch adds defaults such as ``composed_of``)."""
    out: dict[str, Any] = {}
    for key, want in keys.items():
        if key not in template:
            continue
        have = template[key]
        out[key] = (
            _view(have, want) if isinstance(want, dict) and isinstance(have, dict) and key == "template" else have
        )
    return out


class IndexTemplate(DataPlaneResource):
    """Types each pipeline's fields (its time field as ``date``) from the first document of every index."""

    kind = "opensearch-index-template"

    def __init__(self, name: str, body: dict[str, Any], domain: Resource, *, after: tuple[Resource, ...] = ()) -> None:
        super().__init__(name, domain, after=after)
        self.body = copy.deepcopy(body)

    def describe(self) -> str:
        return f"index template {self.name} for {', '.join(self.body.get('index_patterns', []))}"

    def desired(self, ctx: Context) -> dict[str, Any]:
        return {"template": copy.deepcopy(self.body)}

    def read_inside(self, ctx: Context) -> Observed | None:
        reply = self.client(ctx).get(f"/_index_template/{path_part(self.name)}", expect=(200, 404))
        if reply.status == 404:
            return None
        found = next(
            (t["index_template"] for t in (reply.body or {}).get("index_templates", []) if t.get("name") == self.name),
            None,
        )
        if found is None:
            return None
        owned = (found.get("_meta") or {}).get(OWNER_KEY) == OWNER_VALUE
        return Observed({"template": _view(found, self.body)}, {"name": self.name}, owned=owned)

    def _put(self, ctx: Context, desired: dict[str, Any]) -> None:
        self.client(ctx).request("PUT", f"/_index_template/{path_part(self.name)}", body=desired["template"])

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        self.refuse_if_foreign(ctx)  # PUT would replace a template someone else made
        self._put(ctx, desired)
        return {"name": self.name}

    def update(self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict) -> None:
        # A template change applies to indices created from now on; existing ones keep their mapping.
        self._put(ctx, desired)
        return None

    def delete(self, ctx: Context, observed: Observed) -> None:
        self.client(ctx).request("DELETE", f"/_index_template/{path_part(self.name)}", expect=(200, 404))
