"""An OpenSearch composable index template (``_index_template``), owned through ``_meta.managed-by``."""

from __future__ import annotations

import copy
from typing import Any

from logpipe.engine.context import Context
from logpipe.engine.model import UNKNOWN, Observed, Ref, Resource
from logpipe.opensearch.client import path_part
from logpipe.opensearch.mappings import FLAT_OBJECT_MODES, OWNER_KEY, OWNER_VALUE, flat_object_mode
from logpipe.resources.data_plane import DataPlaneResource


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


NAME_PREFIX = "logpipe-"


class IndexTemplate(DataPlaneResource):
    """Types a pipeline's fields (its time field as ``date``) from the first document of every index.

    ``bodies``: the template body for each flat_object mode; the domain's engine version picks one.
    """

    kind = "opensearch-index-template"

    def __init__(
        self, name: str, bodies: dict[str, dict[str, Any]], domain: Resource, *, after: tuple[Resource, ...] = ()
    ) -> None:
        super().__init__(name, domain, after=after)
        assert name.startswith(NAME_PREFIX), "read through the one listing of logpipe's templates"
        assert set(bodies) == set(FLAT_OBJECT_MODES), "one body per flat_object mode"
        self.bodies = copy.deepcopy(bodies)
        self.engine_version = Ref(domain, "engine_version")

    def describe(self) -> str:
        patterns = self.bodies["native"].get("index_patterns", [])
        return f"index template {self.name} for {', '.join(patterns)}"

    def mode(self, ctx: Context) -> str | None:
        """The flat_object mode of this run's domain (UsageError for an engine logpipe does not support)."""
        version = ctx.resolve(self.engine_version)
        return None if version is UNKNOWN else flat_object_mode(version)

    def body(self, ctx: Context) -> Any:
        mode = self.mode(ctx)
        return UNKNOWN if mode is None else copy.deepcopy(self.bodies[mode])

    def desired(self, ctx: Context) -> dict[str, Any]:
        return {"template": self.body(ctx)}

    def read_inside(self, ctx: Context) -> Observed | None:
        mode = self.mode(ctx)  # refuses an unsupported engine before anything is read or written
        # Every pipeline's template in one request (they all share logpipe's name prefix).
        found = self.client(ctx).read_once(
            "index_templates/logpipe",
            lambda raw: raw.indices.get_index_template(name=f"{NAME_PREFIX}*"),
            what=f"GET /_index_template/{NAME_PREFIX}*",
            missing=None,
        )
        template = next(
            (t["index_template"] for t in (found or {}).get("index_templates", []) if t.get("name") == self.name),
            None,
        )
        if template is None:
            return None
        owned = (template.get("_meta") or {}).get(OWNER_KEY) == OWNER_VALUE
        return Observed(
            {"template": _view(template, self.bodies[mode or "native"])},
            {"name": self.name},
            owned=owned,
            note=f"flat_object mode {mode}" if mode else "",
        )

    def _put(self, ctx: Context, desired: dict[str, Any]) -> None:
        self.client(ctx).call(
            lambda raw: raw.indices.put_index_template(name=self.name, body=desired["template"]),
            what=f"PUT /_index_template/{path_part(self.name)}",
        )

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        self.refuse_if_foreign(ctx)  # PUT would replace a template someone else made
        self._put(ctx, desired)
        return {"name": self.name}

    def update(self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict) -> None:
        # A template change applies to indices created from now on; existing ones keep their mapping.
        self._put(ctx, desired)
        return None

    def delete(self, ctx: Context, observed: Observed) -> None:
        self.client(ctx).call(
            lambda raw: raw.indices.delete_index_template(name=self.name),
            what=f"DELETE /_index_template/{path_part(self.name)}",
            missing=None,
        )
