"""A security-plugin role logpipe creates, one per pipeline (``logpipe-<prefix>-<pipeline>-writer``):
write access to that pipeline's indices."""

from __future__ import annotations

from typing import Any

from logpipe.engine.context import Context
from logpipe.engine.model import Observed, Resource
from logpipe.opensearch import security
from logpipe.resources.data_plane import DataPlaneResource


class OpenSearchRole(DataPlaneResource):
    """Owned when its description carries logpipe's marker for this stack (roles have no tags)."""

    kind = "opensearch-role"
    needs_fgac = True

    def __init__(
        self, name: str, *, index_patterns: list[str], domain: Resource, after: tuple[Resource, ...] = ()
    ) -> None:
        super().__init__(name, domain, after=after)
        self.index_patterns = sorted(index_patterns)

    def describe(self) -> str:
        return f"OpenSearch security role {self.name}"

    def _body(self, ctx: Context) -> dict[str, Any]:
        return security.writer_role_body(self.index_patterns, ctx.prefix)

    def desired(self, ctx: Context) -> dict[str, Any]:
        return security.role_view(self._body(ctx))

    def read_inside(self, ctx: Context) -> Observed | None:
        role = security.get_entity(self.client(ctx), "roles", self.name)
        if role is None:
            return None
        owned = str(role.get("description", "")).startswith(security.owner_marker(ctx.prefix))
        return Observed(security.role_view(role), {"name": self.name}, owned=owned)

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        self.refuse_if_foreign(ctx)  # PUT would replace a role someone else made
        security.put_role(self.client(ctx), self.name, self._body(ctx))
        return {"name": self.name}

    def update(self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict) -> None:
        # The role is logpipe's alone (owned): PUT replaces it with exactly what logpipe wants.
        security.put_role(self.client(ctx), self.name, self._body(ctx))
        return None

    def delete(self, ctx: Context, observed: Observed) -> None:
        if self.domain_state(ctx) != "ready":
            return
        security.delete_role(self.client(ctx), self.name)
