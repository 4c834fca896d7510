"""OpenSearch security plugin REST API, in memory, for the OpenSearch stand-in.

Semantics follow the security plugin as shipped with OpenSearch 2.19 (the version family Amazon
OpenSearch Service runs), read from its source (``AbstractApiAction``, ``EndpointValidator``,
``RequestContentValidator``, ``RolesMappingApiAction``) and zjsonpatch 0.4.16, which it uses:

* ``PUT`` replaces the whole entity; 201 ``'x' created.`` or 200 ``'x' updated.``.
* ``PATCH`` takes an RFC 6902 array; only ``add``, ``replace`` and ``remove`` are accepted.
  The patch is applied to the entity serialised *without default values* (empty lists, ``false``
  and ``null`` are left out), so ``add /backend_roles/-`` or ``replace /backend_roles`` on a mapping
  whose ``backend_roles`` is empty fails with 400 ``Missing field "backend_roles"``, as on a real
  domain; ``add /backend_roles`` (whole list) always works. A patch that changes nothing answers
  200 ``No updates required`` and writes nothing.
* A role mapping can only be created for an existing, non-hidden role (404 ``role 'x' not found.``).
* Static and reserved entities cannot be changed or deleted (403 ``Resource 'x' is static.`` /
  ``... is reserved.``); hidden ones look absent (404 ``Resource 'x' is not available.``).
* The REST API needs a caller mapped to ``all_access`` or ``security_manager`` (the roles Amazon
  OpenSearch Service enables for it); ``account`` and ``authinfo`` are open to any caller.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Reply = tuple[int, Any]

REST_API_ROLES = ("all_access", "security_manager")
GLOBAL_TENANT = "global_tenant"
_ARRAY, _STRING, _BOOLEAN = "Array", "String", "Boolean"


@dataclass(frozen=True)
class Caller:
    """Who sent a request, as the security plugin sees them."""

    name: str
    backend_roles: tuple[str, ...] = ()
    internal_user: bool = False
    remote_address: str = "127.0.0.1"
    requested_tenant: str | None = None


class PatchError(Exception):
    """A JSON Patch could not be applied (answered with 400)."""


# --------------------------------------------------------------------------- JSON Patch (RFC 6902)

_ARRAY_INDEX = re.compile(r"-|0|[1-9][0-9]*")


def _parse_pointer(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError("Missing leading slash")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _resolve(doc: Any, tokens: list[str]) -> Any:
    node = doc
    for token in tokens:
        if isinstance(node, list):
            if not _ARRAY_INDEX.fullmatch(token):
                raise PatchError(f'Can\'t reference field "{token}" on array')
            if token == "-" or int(token) >= len(node):
                raise PatchError(f"Array index {token} is out of bounds")
            node = node[int(token)]
        elif isinstance(node, dict):
            if token not in node:
                raise PatchError(f'Missing field "{token}"')
            node = node[token]
        else:
            raise PatchError("Can't reference past scalar value")
    return node


def _array_index(token: str) -> int:
    if not _ARRAY_INDEX.fullmatch(token) or token == "-":
        raise PatchError("Object operation on array target")
    return int(token)


def apply_json_patch(patch: list[Any], document: Any) -> Any:
    """Apply ``add``/``replace``/``remove`` operations to a copy of ``document`` (zjsonpatch rules).

    Raises :class:`PatchError` when an operation cannot apply and :class:`ValueError` for a
    malformed pointer (the plugin lets that one surface as an ``illegal_argument_exception``).
    """
    doc = copy.deepcopy(document)
    for op in patch:
        if not isinstance(op, dict):
            raise PatchError("Invalid JSON Patch payload (not an object)")
        for attr in ("op", "path"):
            if attr not in op:
                raise PatchError(f"Invalid JSON Patch payload (missing '{attr}' field)")
            if not isinstance(op[attr], str):
                raise PatchError(f"Invalid JSON Patch payload (non-text '{attr}' field)")
        name, tokens = op["op"], _parse_pointer(op["path"])
        if name in ("add", "replace") and "value" not in op:
            raise PatchError("Invalid JSON Patch payload (missing 'value' field)")
        value = copy.deepcopy(op.get("value"))
        if not tokens:
            if name == "remove":
                raise PatchError("Cannot remove document root")
            doc = value
            continue
        parent, last = _resolve(doc, tokens[:-1]), tokens[-1]
        if name == "add":
            if isinstance(parent, list):
                if last == "-":
                    parent.append(value)
                else:
                    index = _array_index(last)
                    if index > len(parent):
                        raise PatchError(f"Array index {index} out of bounds")
                    parent.insert(index, value)
            elif isinstance(parent, dict):
                parent[last] = value
            else:
                raise PatchError("Cannot reference past scalar value")
        elif name == "replace":
            if isinstance(parent, dict):
                if last not in parent:
                    raise PatchError(f'Missing field "{last}"')
                parent[last] = value
            elif isinstance(parent, list):
                index = _array_index(last)
                if index >= len(parent):
                    raise PatchError(f"Array index {index} out of bounds")
                parent[index] = value
            else:
                raise PatchError("Can't reference past scalar value")
        elif name == "remove":
            if isinstance(parent, dict):
                parent.pop(last, None)  # zjsonpatch default: removing a missing field is a no-op
            elif isinstance(parent, list):
                index = _array_index(last)
                if index >= len(parent):
                    raise PatchError(f"Array index {index} out of bounds")
                del parent[index]
            else:
                raise PatchError("Cannot reference past scalar value")
        else:
            raise PatchError(f"Invalid JSON Patch payload (unsupported op '{name}')")
    return doc


def omit_defaults(value: Any) -> Any:
    """Serialise like Jackson ``NON_DEFAULT``: drop ``null``, ``false``, ``0``, ``""`` and empty containers."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            item = omit_defaults(item)
            if item is None or item is False or item == 0 or item in ("", [], {}):
                continue
            out[key] = item
        return out
    if isinstance(value, list):
        return [omit_defaults(item) for item in value]
    return value


# --------------------------------------------------------------------------- entity kinds


@dataclass(frozen=True)
class _Kind:
    config: str  # URL segment: rolesmapping, roles, tenants
    resource: str  # used in "<resource> 'x' not found."
    allowed: Mapping[str, str]
    mandatory_or: tuple[str, ...]
    full: Callable[[dict[str, Any]], dict[str, Any]]


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _with_description(entity: dict[str, Any], content: Mapping[str, Any]) -> dict[str, Any]:
    if content.get("description") is not None:
        entity["description"] = content["description"]
    return entity


def _full_mapping(c: dict[str, Any]) -> dict[str, Any]:
    return _with_description(
        {
            "hosts": _strings(c.get("hosts")),
            "users": _strings(c.get("users")),
            "reserved": bool(c.get("reserved", False)),
            "hidden": bool(c.get("hidden", False)),
            "backend_roles": _strings(c.get("backend_roles")),
            "and_backend_roles": _strings(c.get("and_backend_roles")),
        },
        c,
    )


def _full_index_permission(p: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"index_patterns": _strings(p.get("index_patterns"))}
    if p.get("dls"):
        out["dls"] = p["dls"]
    out["fls"] = _strings(p.get("fls"))
    out["masked_fields"] = _strings(p.get("masked_fields"))
    out["allowed_actions"] = _strings(p.get("allowed_actions"))
    return out


def _full_role(c: dict[str, Any]) -> dict[str, Any]:
    role = _with_description({"reserved": bool(c.get("reserved")), "hidden": bool(c.get("hidden"))}, c)
    role["cluster_permissions"] = _strings(c.get("cluster_permissions"))
    role["index_permissions"] = [_full_index_permission(p) for p in c.get("index_permissions") or []]
    role["tenant_permissions"] = [
        {"tenant_patterns": _strings(p.get("tenant_patterns")), "allowed_actions": _strings(p.get("allowed_actions"))}
        for p in c.get("tenant_permissions") or []
    ]
    role["static"] = bool(c.get("static"))
    return role


def _full_tenant(c: dict[str, Any]) -> dict[str, Any]:
    tenant = _with_description({"reserved": bool(c.get("reserved")), "hidden": bool(c.get("hidden"))}, c)
    tenant["static"] = bool(c.get("static"))
    return tenant


_KINDS = {
    "rolesmapping": _Kind(
        "rolesmapping",
        "rolesmapping",
        {
            "backend_roles": _ARRAY,
            "and_backend_roles": _ARRAY,
            "hosts": _ARRAY,
            "users": _ARRAY,
            "description": _STRING,
        },
        ("and_backend_roles", "backend_roles", "hosts", "users"),
        _full_mapping,
    ),
    "roles": _Kind(
        "roles",
        "role",
        {
            "cluster_permissions": _ARRAY,
            "tenant_permissions": _ARRAY,
            "index_permissions": _ARRAY,
            "description": _STRING,
        },
        (),
        _full_role,
    ),
    "tenants": _Kind("tenants", "tenant", {"description": _STRING}, (), _full_tenant),
}

_NESTED_KEYS = {
    "index_permissions": {"index_patterns", "dls", "fls", "masked_fields", "allowed_actions"},
    "tenant_permissions": {"tenant_patterns", "allowed_actions"},
}


def _static_role(
    description: str,
    cluster: list[str],
    index: list[tuple[list[str], list[str]]],
    tenant: list[tuple[list[str], list[str]]] | None = None,
    *,
    static: bool = True,
) -> dict[str, Any]:
    return _full_role(
        {
            "reserved": True,
            "static": static,
            "description": description,
            "cluster_permissions": cluster,
            "index_permissions": [{"index_patterns": p, "allowed_actions": a} for p, a in index],
            "tenant_permissions": [{"tenant_patterns": p, "allowed_actions": a} for p, a in tenant or []],
        }
    )


_DASHBOARDS_INDICES = [
    ".kibana",
    ".kibana-6",
    ".kibana_*",
    ".opensearch_dashboards",
    ".opensearch_dashboards-6",
    ".opensearch_dashboards_*",
]

# From the plugin's static_roles.yml, plus the reserved roles an Amazon OpenSearch Service domain adds.
BUILTIN_ROLES: dict[str, dict[str, Any]] = {
    "all_access": _static_role(
        "Allow full access to all indices and all cluster APIs",
        ["*"],
        [(["*"], ["*"])],
        [(["*"], ["kibana_all_write"])],
    ),
    "kibana_user": _static_role(
        "Provide the minimum permissions for a kibana user",
        ["cluster_composite_ops"],
        [
            (_DASHBOARDS_INDICES, ["delete", "index", "manage", "read"]),
            ([".tasks", ".management-beats", "*:.tasks", "*:.management-beats"], ["indices_all"]),
        ],
    ),
    "own_index": _static_role(
        "Allow all for indices named like the current user",
        ["cluster_composite_ops"],
        [(["${user_name}"], ["indices_all"])],
    ),
    "manage_snapshots": _static_role(
        "Provide the minimum permissions for managing snapshots",
        ["manage_snapshots"],
        [(["*"], ["indices:admin/create", "indices:data/write/index"])],
    ),
    "logstash": _static_role(
        "Provide the minimum permissions for logstash and beats",
        [
            "cluster_monitor",
            "cluster_composite_ops",
            "indices:admin/template/get",
            "indices:admin/template/put",
            "cluster:admin/ingest/pipeline/put",
            "cluster:admin/ingest/pipeline/get",
        ],
        [(["logstash-*"], ["crud", "create_index"]), (["*beat*"], ["crud", "create_index"])],
    ),
    "readall": _static_role(
        "Provide the minimum permissions for to readall indices", ["cluster_composite_ops_ro"], [(["*"], ["read"])]
    ),
    "readall_and_monitor": _static_role(
        "Provide the minimum permissions for to readall indices and monitor the cluster",
        ["cluster_monitor", "cluster_composite_ops_ro"],
        [(["*"], ["read"])],
    ),
    "kibana_read_only": _static_role("Read-only access to OpenSearch Dashboards", [], [], static=False),
    "security_rest_api_access": _static_role("Access to the security REST API", [], [], static=False),
    "security_manager": _static_role(
        "Manage the security plugin (Amazon OpenSearch Service)",
        ["cluster:admin/opendistro_security/*", "restapi:admin/*"],
        [],
        static=False,
    ),
}

BUILTIN_TENANTS: dict[str, dict[str, Any]] = {
    GLOBAL_TENANT: {"reserved": True, "hidden": False, "description": "Global tenant", "static": True},
}


def _wildcard(pattern: str, value: str) -> bool:
    if "*" not in pattern and "?" not in pattern:
        return pattern == value
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, value) is not None


def _status(status: int, message: str) -> Reply:
    names = {
        200: "OK",
        201: "CREATED",
        400: "BAD_REQUEST",
        403: "FORBIDDEN",
        404: "NOT_FOUND",
        405: "METHOD_NOT_ALLOWED",
        501: "NOT_IMPLEMENTED",
    }
    return status, {"status": names.get(status, str(status)), "message": message}


def _invalid(reason: str, **extra: Any) -> Reply:
    return 400, {"status": "error", "reason": reason, **extra}


def _illegal_argument(reason: str) -> Reply:
    cause = {"type": "illegal_argument_exception", "reason": reason}
    return 400, {"error": {"root_cause": [cause], **cause}, "status": 400}


# --------------------------------------------------------------------------- the API


@dataclass
class SecurityApi:
    """Roles, role mappings and tenants, with the plugin's REST semantics.

    Not thread-safe by itself: the stand-in serialises calls. ``revision`` increases on every change,
    so the caller knows when to persist.
    """

    multi_tenancy: bool = False
    config: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    revision: int = 0

    @classmethod
    def create(cls, *, master_user: str | None, master_iam_arn: str | None, multi_tenancy: bool) -> SecurityApi:
        """A new fine-grained-access-control domain: built-in roles, the master mapped to the admin roles."""
        users = [master_user] if master_user else []
        backend_roles = [master_iam_arn] if master_iam_arn else []
        mappings = {role: _full_mapping({"users": users, "backend_roles": backend_roles}) for role in REST_API_ROLES}
        return cls(
            multi_tenancy=multi_tenancy,
            config={
                "roles": copy.deepcopy(BUILTIN_ROLES),
                "rolesmapping": mappings,
                "tenants": copy.deepcopy(BUILTIN_TENANTS),
            },
        )

    # -- persistence -------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The mutable part of the configuration (static entities are rebuilt at load)."""
        return {
            name: {key: value for key, value in entities.items() if not value.get("static")}
            for name, entities in self.config.items()
        }

    def load_json(self, data: Mapping[str, Any]) -> None:
        """Replace the configuration with a saved one (static built-ins are kept)."""
        for name, kind in _KINDS.items():
            entities = data.get(name)
            if not isinstance(entities, dict):
                raise ValueError(f"state: security.{name} must be an object")
            static = {k: v for k, v in self.config[name].items() if v.get("static")}
            self.config[name] = {**{k: kind.full(v) for k, v in entities.items()}, **static}

    # -- identity --------------------------------------------------------------------------------------

    def mapped_roles(self, caller: Caller) -> list[str]:
        """The security roles a caller gets through the role mappings (hosts are not evaluated)."""
        roles = []
        for role, mapping in self.config["rolesmapping"].items():
            by_user = any(_wildcard(p, caller.name) for p in mapping["users"])
            by_backend = any(_wildcard(p, br) for p in mapping["backend_roles"] for br in caller.backend_roles)
            and_roles = mapping["and_backend_roles"]
            by_and = bool(and_roles) and all(any(_wildcard(p, br) for br in caller.backend_roles) for p in and_roles)
            if by_user or by_backend or by_and:
                roles.append(role)
        return sorted(roles)

    def tenant_map(self, caller: Caller, roles: Iterable[str] | None = None) -> dict[str, bool]:
        """Tenants the caller may use (True: read-write), as ``authinfo`` reports them."""
        roles = self.mapped_roles(caller) if roles is None else list(roles)
        tenants: dict[str, bool] = {GLOBAL_TENANT: True}
        if self.multi_tenancy:
            tenants[caller.name] = True
        for tenant in self.config["tenants"]:
            if tenant == GLOBAL_TENANT:
                continue
            for role in roles:
                for perm in self.config["roles"].get(role, {}).get("tenant_permissions", []):
                    if any(_wildcard(p, tenant) for p in perm["tenant_patterns"]):
                        actions = perm["allowed_actions"]
                        write = "kibana_all_write" in actions or "*" in actions
                        tenants[tenant] = tenants.get(tenant, False) or write
        return tenants

    def resolve_tenant(self, caller: Caller, requested: str | None) -> str:
        """Storage key of the Dashboards tenant a request works in.

        Follows the Dashboards security plugin's ``resolveTenant``: a tenant the caller may use is
        taken as asked; ``private``/``__user__`` is the caller's private tenant; anything else
        (including an unknown name or no header) falls back to the global tenant.
        """
        if not self.multi_tenancy or requested is None:
            return "global"
        if requested.lower() in ("private", "__user__"):
            return f"__user__:{caller.name}"
        if requested.lower() in ("global", "", GLOBAL_TENANT):
            return "global"
        if requested in self.tenant_map(caller) and requested != caller.name:
            return requested
        return "global"

    # -- REST dispatch -----------------------------------------------------------------------------------

    def handle(self, method: str, parts: list[str], body: bytes, caller: Caller) -> Reply:
        """Serve ``/_plugins/_security/<parts...>``."""
        uri = "/_plugins/_security/" + "/".join(parts)
        if parts == ["health"] and method in ("GET", "POST", "HEAD"):
            return 200, {"message": None, "mode": "strict", "status": "UP"}
        if parts == ["authinfo"] and method in ("GET", "POST"):
            return 200, self._authinfo(caller)
        if parts == ["dashboardsinfo"] and method in ("GET", "POST"):
            return 200, self._dashboardsinfo(caller)
        if parts[:1] != ["api"] or len(parts) < 2:
            return 400, {"error": f"no handler found for uri [{uri}] and method [{method}]", "status": 400}
        endpoint, rest = parts[1], parts[2:]
        if endpoint == "account" and not rest:
            if method != "GET":
                return _status(501, f"Method {method} not supported for this action.")
            return 200, self._account(caller)
        known = endpoint in _KINDS and len(rest) <= 1
        if endpoint == "tenancy" and rest == ["config"]:
            known = True
        if not known:
            return 400, {"error": f"no handler found for uri [{uri}] and method [{method}]", "status": 400}
        allowed = (
            ["GET"] if endpoint == "tenancy" else (["GET", "PATCH"] if not rest else ["GET", "PUT", "DELETE", "PATCH"])
        )
        if method not in allowed:
            return 405, {
                "error": f"Incorrect HTTP method for uri [{uri}] and method [{method}], allowed: {allowed}",
                "status": 405,
            }
        roles = self.mapped_roles(caller)
        if not set(roles) & set(REST_API_ROLES):
            return _status(
                403,
                f"No permission to access REST API: User {caller.name} with Security roles "
                f"{roles} does not have any role privileged for admin access",
            )
        if endpoint == "tenancy":
            return 200, {
                "multitenancy_enabled": self.multi_tenancy,
                "private_tenant_enabled": True,
                "default_tenant": "Global",
            }
        kind = _KINDS[endpoint]
        if method == "GET":
            return self._get(kind, rest[0] if rest else None)
        if method == "PATCH":
            return self._patch(kind, rest[0] if rest else None, body)
        if method == "PUT":
            return self._put(kind, rest[0], body)
        return self._delete(kind, rest[0])

    # -- identity endpoints -------------------------------------------------------------------------

    def _account(self, caller: Caller) -> dict[str, Any]:
        roles = self.mapped_roles(caller)
        return {
            "user_name": caller.name,
            "is_reserved": False,
            "is_hidden": False,
            "is_internal_user": caller.internal_user,
            "user_requested_tenant": caller.requested_tenant,
            "backend_roles": list(caller.backend_roles),
            "custom_attribute_names": [],
            "tenants": self.tenant_map(caller, roles),
            "roles": roles,
        }

    def _authinfo(self, caller: Caller) -> dict[str, Any]:
        roles = self.mapped_roles(caller)
        return {
            "user": f"User [name={caller.name}, backend_roles={list(caller.backend_roles)}, "
            f"requestedTenant={caller.requested_tenant}]",
            "user_name": caller.name,
            "user_requested_tenant": caller.requested_tenant,
            "remote_address": f"{caller.remote_address}:0",
            "backend_roles": list(caller.backend_roles),
            "custom_attribute_names": [],
            "roles": roles,
            "tenants": self.tenant_map(caller, roles),
            "principal": None,
            "peer_certificates": "0",
            "sso_logout_url": None,
        }

    def _dashboardsinfo(self, caller: Caller) -> dict[str, Any]:
        return {
            "user_name": caller.name,
            "not_fail_on_forbidden_enabled": False,
            "opensearch_dashboards_mt_enabled": self.multi_tenancy,
            "opensearch_dashboards_index": ".kibana",
            "opensearch_dashboards_server_user": "kibanaserver",
            "multitenancy_enabled": self.multi_tenancy,
            "private_tenant_enabled": True,
            "default_tenant": "Global",
        }

    # -- CRUD -----------------------------------------------------------------------------------------

    def _immutable(self, kind: _Kind, name: str) -> Reply | None:
        """The plugin's ``entityImmutable``: hidden, then static, then reserved."""
        entity = self.config[kind.config].get(name)
        if entity is None:
            return None
        if entity.get("hidden"):
            return _status(404, f"Resource '{name}' is not available.")
        if entity.get("static"):
            return _status(403, f"Resource '{name}' is static.")
        if entity.get("reserved"):
            return _status(403, f"Resource '{name}' is reserved.")
        return None

    def _not_found(self, kind: _Kind, name: str) -> Reply | None:
        if name not in self.config[kind.config]:
            return _status(404, f"{kind.resource} '{name}' not found.")
        return None

    def _on_change(self, kind: _Kind, name: str) -> Reply | None:
        """``onConfigChange``: the entity must be mutable; a mapping's role must exist and be visible."""
        error = self._immutable(kind, name)
        if error is None and kind.config == "rolesmapping":
            role = self.config["roles"].get(name)
            if role is None:
                error = _status(404, f"role '{name}' not found.")
            elif role.get("hidden"):
                error = _status(404, f"Resource '{name}' is not available.")
        return error

    def _get(self, kind: _Kind, name: str | None) -> Reply:
        entities = self.config[kind.config]
        if name is None:
            return 200, {k: copy.deepcopy(v) for k, v in entities.items() if not v.get("hidden")}
        if entities.get(name, {}).get("hidden"):
            return _status(404, f"Resource '{name}' is not available.")
        return self._not_found(kind, name) or (200, {name: copy.deepcopy(entities[name])})

    def _put(self, kind: _Kind, name: str, body: bytes) -> Reply:
        if not body.strip():
            return _invalid("Request body required for this action.")
        try:
            content = json.loads(body)
        except ValueError:
            return _invalid("Could not parse content of request.")
        error = self._validate(kind, content) or self._on_change(kind, name)
        if error:
            return error
        existed = name in self.config[kind.config]
        self.config[kind.config][name] = kind.full(content)
        self.revision += 1
        return _status(200, f"'{name}' updated.") if existed else _status(201, f"'{name}' created.")

    def _delete(self, kind: _Kind, name: str) -> Reply:
        error = self._immutable(kind, name) or self._not_found(kind, name)
        if error:
            return error
        del self.config[kind.config][name]
        self.revision += 1
        return _status(200, f"'{name}' deleted.")

    def _patch(self, kind: _Kind, name: str | None, body: bytes) -> Reply:
        try:
            patch = json.loads(body) if body.strip() else None
        except ValueError as exc:
            return _status(400, f"Error in JSON patch: {exc}")
        if not isinstance(patch, list) or not patch:
            return _status(400, "Wrong request body")
        for op in {op.get("op") for op in patch if isinstance(op, dict) and "op" in op}:
            if op not in ("add", "replace", "remove"):
                return _status(400, f"Unsupported patch operation: {op}. Supported are: add,replace,remove")
        entities = self.config[kind.config]
        try:
            if name is not None:
                error = self._immutable(kind, name) or self._not_found(kind, name)
                if error:
                    return error
                before = omit_defaults(entities[name])
                after = apply_json_patch(patch, before)
                if after == before:
                    return _status(200, "No updates required")
                error = self._validate(kind, after, original=before) or self._on_change(kind, name)
                if error:
                    return error
                entities[name] = kind.full(after)
                self.revision += 1
                return _status(200, f"'{name}' updated.")
            return self._patch_all(kind, patch)
        except PatchError as exc:
            return _status(400, str(exc))
        except ValueError as exc:
            return _illegal_argument(str(exc))

    def _patch_all(self, kind: _Kind, patch: list[Any]) -> Reply:
        entities = self.config[kind.config]
        before = {k: omit_defaults(v) for k, v in entities.items()}
        after = apply_json_patch(patch, before)
        if after == before:
            return _status(200, "No updates required")
        if not isinstance(after, dict):
            return _status(400, "Wrong request body")
        names = {_parse_pointer(op["path"])[0] for op in patch if _parse_pointer(op["path"])}
        for name in sorted(names):
            old, new = before.get(name), after.get(name)
            if old is not None and old != new:
                error = self._immutable(kind, name)
                if error:
                    return error
            if new is None:
                continue
            if old is None or old != new:
                error = self._validate(kind, new, original=old)
                if error:
                    return error
            error = self._on_change(kind, name)
            if error:
                return error
        static = {k: v for k, v in entities.items() if v.get("static")}
        self.config[kind.config] = {**{k: kind.full(v) for k, v in after.items() if k not in static}, **static}
        self.revision += 1
        return _status(200, "Resource updated.")

    # -- validation (RequestContentValidator) -------------------------------------------------------------

    @staticmethod
    def _validate(kind: _Kind, content: Any, original: Any = None) -> Reply | None:
        if not isinstance(content, dict):
            return _invalid("Could not parse content of request.")
        if not content:
            return _invalid("Request body required for this action.")
        extra: dict[str, Any] = {}
        invalid = sorted(set(content) - set(kind.allowed))
        if invalid:
            extra["invalid_keys"] = {"keys": ",".join(invalid)}
        if kind.mandatory_or and not set(content) & set(kind.mandatory_or):
            extra["specify_one_of"] = {"keys": ",".join(kind.mandatory_or)}
        if extra:
            return _invalid("Invalid configuration", **extra)
        wrong = {}
        for key, expected in kind.allowed.items():
            if key not in content:
                continue
            value = content[key]
            ok = isinstance(value, list) if expected == _ARRAY else isinstance(value, str)
            if not ok:
                wrong[key] = f"{expected} expected"
        if wrong:
            return _invalid("Wrong datatype", **wrong)
        original = original if isinstance(original, dict) else {}
        for key, value in content.items():
            if value != original.get(key) and _has_blank_element(value):
                return _invalid("`null` or blank values are not allowed as json array elements")
        for key, allowed_keys in _NESTED_KEYS.items():
            for item in content.get(key, []):
                if not isinstance(item, dict) or set(item) - allowed_keys:
                    return _invalid("Could not parse content of request.")
        return None


def _has_blank_element(value: Any) -> bool:
    if isinstance(value, list):
        for item in value:
            if item is None or (isinstance(item, str) and not item.strip()):
                return True
            if isinstance(item, (list, dict)) and _has_blank_element(item):
                return True
    elif isinstance(value, dict):
        return any(_has_blank_element(v) for v in value.values() if isinstance(v, (list, dict)))
    return False
