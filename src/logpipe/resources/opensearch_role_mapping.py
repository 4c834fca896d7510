"""logpipe's entries (its pipelines' IAM role ARNs as backend roles) in security-plugin role mappings.

Only the entries are logpipe's: the mappings themselves belong to whoever administers the domain,
and every user, backend role and host someone else put there stays. One declaration covers the
chosen role (``logpipe_writer`` or ``all_access``) and clears logpipe's entries from the other, so
switching away from the lab's ``all_access`` takes the wide grant back.
"""

from __future__ import annotations

from typing import Any

from logpipe.engine.context import Context
from logpipe.engine.model import Observed, Resource
from logpipe.opensearch import security
from logpipe.opensearch.resource_base import DataPlaneResource

ALL_ACCESS_WARNING = (
    "warning: opensearch.role_mapping is 'all_access' (the lab's choice): every pipeline role may read, "
    "change and delete anything in the domain, including its security settings"
)


class OpenSearchRoleMapping(DataPlaneResource):
    """Props: role name -> logpipe's backend roles found in that role's mapping.

    ``backend_roles``: the writer role ARNs wanted in ``name``'s mapping (enabled pipelines);
    ``managed``: every ARN logpipe may add or remove (all its pipelines, enabled or not).
    Missing means: none of logpipe's entries is in any of the mappings yet.
    """

    kind = "opensearch-role-mapping"
    needs_fgac = True

    def __init__(
        self,
        name: str,
        *,
        backend_roles: list[str],
        managed: list[str],
        domain: Resource,
        after: tuple[Resource, ...] = (),
    ) -> None:
        super().__init__(name, domain, after=after)
        self.backend_roles = sorted(set(backend_roles))
        self.managed = sorted(set(managed) | set(backend_roles))
        self.roles = (name, *(r for r in security.MAPPING_ROLES if r != name))

    def describe(self) -> str:
        return f"backend roles of logpipe's pipelines in role mapping {self.name}"

    def desired(self, ctx: Context) -> dict[str, Any]:
        return {role: list(self.backend_roles) if role == self.name else [] for role in self.roles}

    def read_inside(self, ctx: Context) -> Observed | None:
        if self.name == security.ALL_ACCESS:
            ctx.progress(ALL_ACCESS_WARNING)
        client = self.client(ctx)
        props: dict[str, list[str]] = {}
        others: dict[str, int] = {}
        for role in self.roles:
            mapping = security.get_mapping(client, role) or {}
            present = mapping.get("backend_roles") or []
            props[role] = sorted(a for a in present if a in self.managed)
            others[role] = sum(len(mapping.get(f) or []) for f in ("users", "hosts", "and_backend_roles")) + sum(
                1 for a in present if a not in self.managed
            )
        if self.backend_roles and not any(props.values()):
            return None
        note = f"{others[self.name]} other entr{'y' if others[self.name] == 1 else 'ies'} in the mapping, kept"
        return Observed(props, {"role": self.name}, note=note)

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        self._converge(ctx, {role: [] for role in self.roles}, desired)
        return {"role": self.name}

    def update(self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict) -> None:
        self._converge(ctx, observed.props, desired)
        return None

    def _converge(self, ctx: Context, have: dict[str, list[str]], want: dict[str, list[str]]) -> None:
        client = self.client(ctx)
        for role in self.roles:
            extra = set(have.get(role) or []) - set(want[role])
            if extra:
                security.remove_backend_roles(client, role, extra)
            missing = [a for a in want[role] if a not in (have.get(role) or [])]
            if missing:
                security.add_backend_roles(client, role, missing)

    def delete(self, ctx: Context, observed: Observed) -> None:
        if self.domain_state(ctx) != "ready":
            return
        client = self.client(ctx)
        for role in self.roles:
            security.remove_backend_roles(client, role, set(self.managed), delete_if_empty=role == security.WRITER_ROLE)
