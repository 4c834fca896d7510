"""What a resource declaration is, and what the engine learns about it from AWS.

A resource kind implements ``read`` / ``desired`` / ``create`` / ``update`` / ``delete``
(and may refine ``diff``). A pipeline builds instances of kinds; references between
them are ``Ref`` values, from which the engine derives the dependency graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    from logpipe.engine.context import Context


class _Unknown:
    """A value that is only known once a dependency has been created."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "(known after apply)"


UNKNOWN: Any = _Unknown()


@dataclass(frozen=True)
class Ref:
    """A value taken from another resource's outputs (its ARN, id, ...).

    ``template`` formats it, e.g. ``"{}/*"`` for everything under an ARN.
    """

    resource: Resource
    attr: str
    template: str = "{}"


# How logpipe relates to a resource kind:
#   owned    - logpipe creates it; an unowned one under logpipe's name is a conflict.
#   external - pre-existing and only read (VPC, web ACL, a named bucket); missing is a preflight error.
#   shared   - account-wide service (Config recorder, Security Hub, GuardDuty): created when absent,
#              otherwise used as it is (only ``shared_diff`` settings are converged), never deleted
#              unless logpipe created it.
Policy = Literal["owned", "external", "shared"]


@dataclass
class Observed:
    """What ``read`` found in AWS."""

    props: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)
    owned: bool = True
    raw: Any = None
    note: str = ""


class Resource:
    """Base class for resource kinds. Subclasses set ``kind`` and implement the five verbs."""

    kind: ClassVar[str] = "resource"
    policy: Policy = "owned"
    # True for the resource that turns a log source on (a subscription filter, a flow log, ...):
    # once it exists, documents start to arrive, so it waits for its pipeline's index template.
    starts_data_flow: ClassVar[bool] = False
    # True for kinds whose ``read`` needs nothing the resources they depend on report (it looks
    # itself up by its own name): the engine reads them at once instead of after those, which
    # on real AWS, where each read takes a round trip, shortens a run by whole dependency levels.
    reads_alone: ClassVar[bool] = False

    def __init__(self, name: str, *, depends_on: tuple[Resource, ...] = (), policy: Policy | None = None) -> None:
        self.name = name
        self.pipeline = ""
        self._explicit_deps = tuple(depends_on)
        if policy is not None:
            self.policy = policy

    # identity -----------------------------------------------------------------
    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"

    def __repr__(self) -> str:
        return f"<{self.key}>"

    def add_dependency(self, other: Resource) -> None:
        if other.key not in {r.key for r in self._explicit_deps}:
            self._explicit_deps = (*self._explicit_deps, other)

    def dependencies(self) -> list[Resource]:
        """Explicit ``depends_on`` plus every resource a ``Ref`` in this declaration points at."""
        found: dict[str, Resource] = {r.key: r for r in self._explicit_deps}
        for value in vars(self).values():
            for ref in _refs_in(value):
                if ref.resource is not self:
                    found.setdefault(ref.resource.key, ref.resource)
        return list(found.values())

    # verbs ----------------------------------------------------------------------
    def read(self, ctx: Context) -> Observed | None:
        raise NotImplementedError

    def desired(self, ctx: Context) -> dict[str, Any]:
        """The wanted properties, in the same shape ``read`` reports them."""
        return {}

    def diff(self, observed: Observed, desired: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
        """Properties whose observed value differs from the wanted one: name -> (old, new)."""
        changes = {}
        for name, want in desired.items():
            have = observed.props.get(name)
            if want is UNKNOWN or not same(have, want):
                changes[name] = (have, want)
        return changes

    def shared_diff(self, observed: Observed, desired: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
        """For ``shared`` kinds used as they are: the settings logpipe still converges. None by default."""
        return {}

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        """Create it; return its outputs (ARN, id, ...)."""
        raise NotImplementedError

    def update(
        self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict[str, tuple[Any, Any]]
    ) -> dict[str, Any] | None:
        """Converge in place; return new outputs or None when they did not change."""
        raise NotImplementedError

    def delete(self, ctx: Context, observed: Observed) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        """A short human detail for tables (defaults to the name)."""
        return self.name


def _refs_in(value: Any) -> list[Ref]:
    if isinstance(value, Ref):
        return [value]
    if isinstance(value, dict):
        return [r for v in value.values() for r in _refs_in(v)]
    if isinstance(value, (list, tuple, set)):
        return [r for v in value for r in _refs_in(v)]
    return []


def normalise(value: Any) -> Any:
    """Canonical form for comparison: dict key order and list order of plain scalars do not matter."""
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        items = [normalise(v) for v in value]
        if all(isinstance(v, (str, int, float, bool)) or v is None for v in items):
            return sorted(items, key=lambda v: (str(type(v)), str(v)))
        return items
    return value


def same(have: Any, want: Any) -> bool:
    return normalise(have) == normalise(want)
