"""Security plugin REST calls logpipe makes: its writer role, and its entries in role mappings.

A role mapping is shared with whoever else administers the domain. logpipe therefore never
PUTs a mapping that exists: it appends its backend roles with JSON Patch (``add
/backend_roles/-``) and removes exactly its own entries by index. The security plugin accepts
only ``add``, ``replace`` and ``remove`` (a ``test`` operation is refused with 400), so the
safety net is a fresh read right before each patch and a check right after it that nobody
else's entry went missing; one that did is put back.
"""

from __future__ import annotations

from typing import Any

from logpipe.errors import LogpipeError
from logpipe.opensearch.client import DataPlane, path_part

ALL_ACCESS = "all_access"
#: opensearch.role_mapping value for "a scoped writer role per pipeline, made by logpipe".
SCOPED_WRITER = "logpipe_writer"
#: The one writer role all pipelines shared before each got its own: `up` takes the pipelines'
#: writers out of its mapping, so an older stack's wider grant does not outlive the upgrade.
LEGACY_SHARED_WRITER = "logpipe_writer"

# What a writer needs and nothing more: _bulk (cluster_composite_ops holds indices:data/write/bulk),
# index and overwrite documents (crud), create a daily index (indices:admin/create) and add fields
# the template did not declare (indices:admin/mapping/put), on the pipelines' indices only.
# Firehose also reads cluster and node stats before delivering (the ESHttpGet paths AWS's
# Firehose policy lists: _cluster/stats, _nodes/stats, ...), which cluster_monitor covers; it is
# read-only.
WRITER_CLUSTER_PERMISSIONS = ["cluster_composite_ops", "cluster_monitor"]
# Firehose also reads the index mapping, stats and settings it documents in its IAM policy
# (GET <index>*/_mapping, <index>*/_stats, _all/_settings): read-only, on these indices only.
WRITER_INDEX_ACTIONS = [
    "crud",
    "indices:admin/create",
    "indices:admin/mapping/put",
    "indices:admin/mappings/get",
    "indices_monitor",
]

_MAPPING_FIELDS = ("users", "backend_roles", "and_backend_roles", "hosts")


def writer_role_name(prefix: str, pipeline: str) -> str:
    """One role per pipeline, so each pipeline's writers reach its own indices only, and one stack's
    pipelines never share (or fight over) a role with another stack's on the same domain."""
    return f"logpipe-{prefix}-{pipeline}-writer"


def writer_role_body(patterns: list[str], prefix: str) -> dict[str, Any]:
    return {
        "description": f"{owner_marker(prefix)}: lets a logpipe pipeline's roles write its indices, nothing else",
        "cluster_permissions": list(WRITER_CLUSTER_PERMISSIONS),
        "index_permissions": (
            [{"index_patterns": sorted(patterns), "allowed_actions": list(WRITER_INDEX_ACTIONS)}] if patterns else []
        ),
    }


def owner_marker(prefix: str) -> str:
    """Roles have no tags: the description says who made it (and is how ownership is read back)."""
    return f"Created by logpipe (logpipe:stack={prefix})"


def role_view(role: dict[str, Any]) -> dict[str, Any]:
    """The parts of a role logpipe sets, in a comparable shape."""
    return {
        "cluster_permissions": sorted(role.get("cluster_permissions") or []),
        "index_permissions": sorted(
            (
                {
                    "index_patterns": sorted(p.get("index_patterns") or []),
                    "allowed_actions": sorted(p.get("allowed_actions") or []),
                }
                for p in role.get("index_permissions") or []
            ),
            key=lambda p: p["index_patterns"],
        ),
    }


# reads ---------------------------------------------------------------------------------
def get_entity(client: DataPlane, kind: str, name: str) -> dict[str, Any] | None:
    """One role / role mapping, or None when it does not exist (or is hidden)."""
    every = client.read_once(
        f"security/{kind}",
        lambda raw: client.security("GET", f"/{kind}"),
        what=f"GET {client.security_api}/{kind}",
    )
    return (every or {}).get(name)


def get_mapping(client: DataPlane, role: str) -> dict[str, Any] | None:
    return get_entity(client, "rolesmapping", role)


# role ------------------------------------------------------------------------------------
def put_role(client: DataPlane, name: str, body: dict[str, Any]) -> None:
    client.security("PUT", f"/roles/{path_part(name)}", body=body)


def delete_role(client: DataPlane, name: str) -> None:
    client.security("DELETE", f"/roles/{path_part(name)}", missing=None)


# mapping entries -----------------------------------------------------------------------------
def add_backend_roles(client: DataPlane, role: str, arns: list[str]) -> None:
    """Append ``arns`` to ``role``'s mapping, keeping every user, backend role and host in it."""
    mapping = get_mapping(client, role)
    if mapping is None:
        # Nothing to preserve: a new mapping (the role itself must exist, or the plugin answers 404).
        client.security("PUT", f"/rolesmapping/{path_part(role)}", body={"backend_roles": sorted(arns)})
        return
    present = list(mapping.get("backend_roles") or [])
    missing = [a for a in sorted(arns) if a not in present]
    if not missing:
        return
    if present:
        ops = [{"op": "add", "path": "/backend_roles/-", "value": arn} for arn in missing]
    else:
        # The plugin patches the mapping as serialised without empty fields: with no backend role
        # yet there is no list to append to, and adding the whole field replaces nothing.
        ops = [{"op": "add", "path": "/backend_roles", "value": missing}]
    _patch(client, role, ops)


def remove_backend_roles(client: DataPlane, role: str, arns: set[str], *, delete_if_empty: bool = False) -> None:
    """Remove exactly ``arns`` from ``role``'s mapping (by index, highest first); nothing else.

    ``delete_if_empty``: delete the mapping when nothing at all is left in it (logpipe's own role).
    """
    mapping = get_mapping(client, role)
    if mapping is None:
        return
    present = list(mapping.get("backend_roles") or [])
    indices = [i for i, arn in enumerate(present) if arn in arns]
    if indices:
        # Highest index first: each removal then leaves the positions of the next ones unchanged.
        _patch(client, role, [{"op": "remove", "path": f"/backend_roles/{i}"} for i in sorted(indices, reverse=True)])
        mapping = _verify_kept(client, role, mapping, removed=arns)
    if delete_if_empty and not any(mapping.get(field) for field in _MAPPING_FIELDS):
        client.security("DELETE", f"/rolesmapping/{path_part(role)}", missing=None)


def _patch(client: DataPlane, role: str, ops: list[dict[str, Any]]) -> None:
    client.security("PATCH", f"/rolesmapping/{path_part(role)}", body=ops)


def _verify_kept(client: DataPlane, role: str, before: dict[str, Any], *, removed: set[str]) -> dict[str, Any]:
    """Put back any backend role of others lost between our read and our patch (a concurrent edit
    can shift the indices a removal names); returns the mapping as it is now."""
    after = get_mapping(client, role) or {}
    now = after.get("backend_roles") or []
    lost = [arn for arn in before.get("backend_roles") or [] if arn not in removed and arn not in now]
    if lost:
        _patch(client, role, [{"op": "add", "path": "/backend_roles/-", "value": arn} for arn in lost])
        raise LogpipeError(
            f"role mapping {role} changed while logpipe edited it; {len(lost)} backend role(s) of others were "
            "put back. Check the mapping and run the command again"
        )
    return after
