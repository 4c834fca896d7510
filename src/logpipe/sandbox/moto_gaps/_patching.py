"""Helpers shared by the moto gap patches: attribute patching, request parsing, errors."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.model import ServiceModel
from moto.core.utils import get_service_model

# (id(owner), attribute name) of everything patched so far; makes every patch idempotent.
_PATCHED: dict[tuple[int, str], Any] = {}
_LOCK = threading.RLock()


def patch(owner: Any, name: str, new: Any) -> None:
    """Set ``owner.name = new`` once; the replaced value is kept in ``_PATCHED``."""
    key = (id(owner), name)
    with _LOCK:
        if key in _PATCHED:
            return
        own = getattr(owner, "__dict__", {})
        _PATCHED[key] = own[name] if name in own else getattr(owner, name, None)
        setattr(owner, name, new)


def original(owner: Any, name: str) -> Any:
    """The attribute as moto defined it, before :func:`patch` replaced it."""
    return _PATCHED[(id(owner), name)]


def add_url_paths(urls_module: Any, paths: dict[str, Any]) -> None:
    """Register extra URL routes on a moto ``<service>.urls`` module.

    Both the in-process mock (``botocore_stubber``) and the moto server's Flask app read
    ``url_paths`` from the module; the server reads it when it first sees the service, so
    :func:`logpipe.sandbox.moto_gaps.install` must run before the server takes requests.
    New routes go first so that they win over moto's broader patterns.
    """
    with _LOCK:
        current = urls_module.url_paths
        missing = {k: v for k, v in paths.items() if k not in current}
        if not missing:
            return
        merged = {**missing, **current}
        current.clear()
        current.update(merged)


def request_params(response: Any) -> dict[str, Any]:
    """The current request parsed with botocore's model (members by their model names).

    For moto response classes that do not parse requests automatically.
    """
    if not getattr(response, "automated_parameter_parsing", False) or not hasattr(response, "params"):
        response.parse_parameters(response.normalized_request)
    return dict(response.params)


def service_model(service_name: str) -> ServiceModel:
    return get_service_model(service_name)


class AwsError(ServiceException):
    """An AWS error by code, serialized by moto from the service's error shape.

    Extra keyword arguments become members of the error body when the shape has them
    (for example WAF's ``Field``/``Parameter``).
    """

    def __init__(self, code: str, message: str, **members: Any) -> None:
        super().__init__(code, message)
        for key, value in members.items():
            setattr(self, key, value)


def missing_required_members(shape: Any, value: Any, path: str) -> list[str]:
    """Paths (AWS style, lowerCamel) of required members that are absent from ``value``."""
    missing: list[str] = []
    type_name = getattr(shape, "type_name", None)
    if type_name == "structure" and isinstance(value, dict):
        for member in shape.required_members:
            if value.get(member) is None:
                missing.append(f"{path}.{_lower_camel(member)}")
        for member_name, member_shape in shape.members.items():
            if value.get(member_name) is not None:
                missing.extend(
                    missing_required_members(member_shape, value[member_name], f"{path}.{_lower_camel(member_name)}")
                )
    elif type_name == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            missing.extend(missing_required_members(shape.member, item, f"{path}.{index + 1}.member"))
    return missing


def null_members_message(paths: Iterable[str]) -> str:
    """AWS's (Coral) wording for missing required members."""
    paths = list(paths)
    errors = "; ".join(f"Value null at '{p}' failed to satisfy constraint: Member must not be null" for p in paths)
    plural = "s" if len(paths) > 1 else ""
    return f"{len(paths)} validation error{plural} detected: {errors}"


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def iter_existing_backends(backend_dict: Any, account_id: str, region_name: str) -> Iterable[Any]:
    """The backend for account/region if moto has already created it (never creates one)."""
    if account_id not in backend_dict:
        return []
    per_account = backend_dict[account_id]
    if region_name in per_account:
        return [per_account[region_name]]
    return []


class ActionLock:
    """One moto action at a time, across every service and thread.

    AWS serves concurrent calls; moto's backends are plain dicts that its actions iterate
    (IAM's ``GetRole`` walks every role), so two threads of one run (logpipe works in parallel)
    can meet one adding or deleting while the other iterates: "dictionary changed size during
    iteration". Holding this lock for each action keeps moto consistent. It is re-entrant in
    its thread, and :meth:`suspended` lets go of it while an action hands records on to
    delivery listeners, which may call moto again from other threads (over the sandbox's HTTP).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()

    def __enter__(self) -> None:
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            self._lock.acquire()
        self._local.depth = depth + 1

    def __exit__(self, *exc: object) -> None:
        self._local.depth -= 1
        if self._local.depth == 0:
            self._lock.release()

    @contextmanager
    def suspended(self) -> Iterator[None]:
        depth = getattr(self._local, "depth", 0)
        if depth:
            self._local.depth = 0
            self._lock.release()
        try:
            yield
        finally:
            if depth:
                self._lock.acquire()
                self._local.depth = depth


ACTIONS = ActionLock()

# (response class, action in snake_case) -> hooks run before moto answers that action.
_BEFORE: dict[tuple[type, str], list[Any]] = {}


def _call_action(self: Any) -> Any:
    """``BaseResponse.call_action``: one moto action at a time, after its ``before_action`` hooks."""
    from moto.core.responses import BaseResponse
    from moto.core.utils import camelcase_to_underscores

    answer = original(BaseResponse, "call_action")
    with ACTIONS:
        action = self._get_action()
        action_name = camelcase_to_underscores(action) if action else ""
        hooks = [h for cls in type(self).__mro__ for key in (action_name, "*") for h in _BEFORE.get((cls, key), ())]
        if not hooks or not hasattr(self, action_name):
            return answer(self)
        method = getattr(self, action_name)

        def guarded(*args: Any, **kwargs: Any) -> Any:
            for run in hooks:
                run(self)
            return method(*args, **kwargs)

        self.__dict__[action_name] = guarded  # moto looks the action up on the instance
        try:
            return answer(self)
        finally:
            self.__dict__.pop(action_name, None)


def serialize_actions() -> None:
    """Make moto answer one action at a time (see :class:`ActionLock`)."""
    from moto.core.responses import BaseResponse

    patch(BaseResponse, "call_action", _call_action)


def before_action(response_class: type, action: str, hook: Any) -> None:
    """Run ``hook(response)`` before moto answers ``action`` (snake_case; ``*``: all) of ``response_class``.

    The hook sees the request (``response.body``, ``_get_param``) and may raise an AWS error,
    which moto serialises as it does its own. One wrapper around ``BaseResponse.call_action``
    serves every service, so hooks never collide with other patches of the same action.
    """
    with _LOCK:
        _BEFORE.setdefault((response_class, action), []).append(hook)
    serialize_actions()
