"""An OpenSearch Dashboards index pattern (a saved object) with the pipeline's time field."""

from __future__ import annotations

from typing import Any

from logpipe.engine.context import Context
from logpipe.engine.model import Observed, Resource
from logpipe.opensearch.client import path_part
from logpipe.resources.data_plane import DataPlaneResource

TYPE = "index-pattern"
ID_PREFIX = "logpipe-"


def pattern_id(pipeline: str) -> str:
    """A fixed id: saved objects have no tags, so logpipe's are the ones under its own ids."""
    return f"{ID_PREFIX}{pipeline}"


class IndexPattern(DataPlaneResource):
    """In the configured Dashboards tenant (``opensearch.tenant``), else the caller's default one."""

    kind = "opensearch-index-pattern"

    def __init__(
        self, pipeline: str, *, title: str, time_field: str, domain: Resource, after: tuple[Resource, ...] = ()
    ) -> None:
        super().__init__(pattern_id(pipeline), domain, after=after)
        self.title = title
        self.time_field = time_field

    def describe(self) -> str:
        return f"index pattern {self.title} (time field {self.time_field})"

    def _path(self) -> str:
        return f"/api/saved_objects/{TYPE}/{path_part(self.name)}"

    def desired(self, ctx: Context) -> dict[str, Any]:
        return {"title": self.title, "timeFieldName": self.time_field}

    def read_inside(self, ctx: Context) -> Observed | None:
        found = self.client(ctx).dashboards("GET", self._path(), missing=None)
        if found is None:
            return None
        attributes = found.get("attributes") or {}
        props = {"title": attributes.get("title"), "timeFieldName": attributes.get("timeFieldName")}
        tenant = ctx.config.opensearch.tenant
        note = f"{props['title']} by {props['timeFieldName']}" + (f" in tenant {tenant}" if tenant else "")
        return Observed(props, {"id": self.name}, note=note)

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        # Without overwrite=true Dashboards answers 409 if the id appeared since the plan: reported, not clobbered.
        self.client(ctx).dashboards("POST", self._path(), body={"attributes": desired})
        return {"id": self.name}

    def update(self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict) -> None:
        # PUT merges the given attributes: the cached field list and formats someone set are kept.
        self.client(ctx).dashboards("PUT", self._path(), body={"attributes": desired})
        return None

    def delete(self, ctx: Context, observed: Observed) -> None:
        self.client(ctx).dashboards("DELETE", self._path(), missing=None)
