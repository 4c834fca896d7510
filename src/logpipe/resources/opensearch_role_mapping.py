"""One pipeline's entries (its IAM writer role ARNs as backend roles) in security-plugin role mappings.

Only the entries are logpipe's: a mapping may also hold users, backend roles and hosts someone
else put there, and every one of them stays. One declaration covers the role the config chooses
(the pipeline's scoped writer role, or the lab's ``all_access``) and clears the pipeline's entries
from the other, so switching away from ``all_access`` takes the wide grant back.
"""

from __future__ import annotations

from typing import Any

from logpipe.engine.context import Context
from logpipe.engine.model import Observed, Resource
from logpipe.opensearch import security
from logpipe.resources.data_plane import DataPlaneResource

ALL_ACCESS_WARNING = (
    "warning: opensearch.role_mapping is 'all_access' (the lab's choice): every pipeline role may read, "
    "change and delete anything in the domain, including its security settings"
)


class OpenSearchRoleMapping(DataPlaneResource):
    """Props: role name -> this pipeline's backend roles found in that role's mapping.

    ``role``: where the writers belong; ``others``: roles the writers must not stay in.
    Missing means: none of the pipeline's entries is in any of these mappings yet.
    """

    kind = "opensearch-role-mapping"
    needs_fgac = True

    def __init__(
        self,
        pipeline: str,
        *,
        role: str,
        others: tuple[str, ...],
        backend_roles: list[str],
        domain: Resource,
        after: tuple[Resource, ...] = (),
    ) -> None:
        super().__init__(pipeline, domain, after=after)
        self.role = role
        self.backend_roles = sorted(set(backend_roles))
        self.roles = (role, *(r for r in others if r != role))

    def describe(self) -> str:
        return f"{self.name}'s writer roles in role mapping {self.role}"

    def desired(self, ctx: Context) -> dict[str, Any]:
        return {role: list(self.backend_roles) if role == self.role else [] for role in self.roles}

    def read_inside(self, ctx: Context) -> Observed | None:
        if self.role == security.ALL_ACCESS:
            ctx.progress(ALL_ACCESS_WARNING)
        client = self.client(ctx)
        props: dict[str, list[str]] = {}
        others = 0
        for role in self.roles:
            mapping = security.get_mapping(client, role) or {}
            present = mapping.get("backend_roles") or []
            props[role] = sorted(a for a in present if a in self.backend_roles)
            if role == self.role:
                others = sum(len(mapping.get(f) or []) for f in ("users", "hosts", "and_backend_roles")) + sum(
                    1 for a in present if a not in self.backend_roles
                )
        if self.backend_roles and not any(props.values()):
            return None
        note = f"{others} other entr{'y' if others == 1 else 'ies'} in the mapping, kept"
        return Observed(props, {"role": self.role}, note=note)

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        self._converge(ctx, {role: [] for role in self.roles}, desired)
        return {"role": self.role}

    def update(self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict) -> None:
        self._converge(ctx, observed.props, desired)
        return None

    def _converge(self, ctx: Context, have: dict[str, list[str]], want: dict[str, list[str]]) -> None:
        client = self.client(ctx)
        for role in self.roles:
            extra = set(have.get(role) or []) - set(want[role])
            missing = [a for a in want[role] if a not in (have.get(role) or [])]
            # Other pipelines edit the same mapping in parallel; patches name positions, so one at a time.
            with ctx.serialized(f"rolesmapping:{role}"):
                if extra:
                    security.remove_backend_roles(client, role, extra)
                if missing:
                    security.add_backend_roles(client, role, missing)

    def delete(self, ctx: Context, observed: Observed) -> None:
        if self.domain_state(ctx) != "ready":
            return
        client = self.client(ctx)
        for role in self.roles:
            # A mapping of logpipe's own role goes with the last entry; all_access's never does.
            with ctx.serialized(f"rolesmapping:{role}"):
                security.remove_backend_roles(
                    client, role, set(self.backend_roles), delete_if_empty=role != security.ALL_ACCESS
                )
