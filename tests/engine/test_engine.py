"""The reconcile engine's ordering, parallelism, ownership and failure handling.

The resource kind here keeps its state in a dict: the engine is generic, so its rules are
tested on a kind whose every call can be observed. Real kinds are tested in moto.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from logpipe.aws import Aws
from logpipe.engine.context import Context
from logpipe.engine.model import Observed, Ref, Resource
from logpipe.engine.runner import Engine
from logpipe.errors import PreflightError
from logpipe.pipelines import parse_config


class Cloud:
    """A fake account: name -> {"props", "tags"}; records every call in order."""

    def __init__(self) -> None:
        self.things: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.fail_on: set[tuple[str, str]] = set()
        self.barrier: threading.Barrier | None = None
        self.barrier_names: set[str] = set()

    def record(self, verb: str, name: str) -> None:
        with self.lock:
            self.calls.append((verb, name))
        if (verb, name) in self.fail_on:
            raise RuntimeError(f"injected failure in {verb} {name}")
        if self.barrier is not None and verb == "create" and name in self.barrier_names:
            self.barrier.wait(timeout=10)


class Thing(Resource):
    kind = "thing"

    def __init__(self, cloud: Cloud, name: str, size: int = 1, parent: Ref | None = None, **kw: Any) -> None:
        super().__init__(name, **kw)
        self.cloud = cloud
        self.size = size
        self.parent = parent

    def desired(self, ctx: Context) -> dict[str, Any]:
        return {"size": self.size, "parent": ctx.resolve(self.parent), "tags": ctx.tags}

    def read(self, ctx: Context) -> Observed | None:
        self.cloud.record("read", self.name)
        found = self.cloud.things.get(self.name)
        if found is None:
            return None
        return Observed(
            {**found["props"], "tags": found["tags"]}, {"id": f"id-{self.name}"}, owned=ctx.owns(found["tags"])
        )

    def create(self, ctx: Context, desired: dict[str, Any]) -> dict[str, Any]:
        self.cloud.record("create", self.name)
        props = {k: v for k, v in desired.items() if k != "tags"}
        self.cloud.things[self.name] = {"props": props, "tags": dict(desired["tags"])}
        return {"id": f"id-{self.name}"}

    def update(self, ctx: Context, observed: Observed, desired: dict[str, Any], changes: dict) -> None:
        self.cloud.record("update", self.name)
        thing = self.cloud.things[self.name]
        thing["props"].update({k: v for k, v in desired.items() if k != "tags"})
        thing["tags"].update(desired["tags"])

    def delete(self, ctx: Context, observed: Observed) -> None:
        self.cloud.record("delete", self.name)
        del self.cloud.things[self.name]


@pytest.fixture
def cloud() -> Cloud:
    return Cloud()


@pytest.fixture
def engine() -> Engine:
    config = parse_config({"prefix": "demogo", "opensearch": {"domain": "demogo-opensearch"}})
    return Engine(Context(config, Aws(region="ap-northeast-2")))


def stack(cloud: Cloud) -> dict[str, list[Resource]]:
    """role <- function <- permission; bucket independent."""
    role = Thing(cloud, "role")
    function = Thing(cloud, "function", parent=Ref(role, "id"))
    permission = Thing(cloud, "permission", parent=Ref(function, "id"))
    bucket = Thing(cloud, "bucket")
    return {"demo": [permission, function, role, bucket]}


def created_order(cloud: Cloud, verb: str = "create") -> list[str]:
    return [name for v, name in cloud.calls if v == verb]


def test_up_creates_dependencies_first_and_resolves_references(engine: Engine, cloud: Cloud) -> None:
    items = engine.apply(engine.plan(stack(cloud)))
    order = created_order(cloud)
    assert order.index("role") < order.index("function") < order.index("permission")
    assert cloud.things["function"]["props"]["parent"] == "id-role"
    assert cloud.things["permission"]["props"]["parent"] == "id-function"
    assert {i.resource.name: i.result for i in items} == {
        "role": "created",
        "function": "created",
        "permission": "created",
        "bucket": "created",
    }


def test_second_up_makes_no_change(engine: Engine, cloud: Cloud) -> None:
    engine.apply(engine.plan(stack(cloud)))
    cloud.calls.clear()
    items = engine.apply(engine.plan(stack(cloud)))
    assert [v for v, _ in cloud.calls if v != "read"] == []
    assert {i.action for i in items} == {"noop"}


def test_independent_resources_run_in_parallel(engine: Engine, cloud: Cloud) -> None:
    # Both creations must be in progress at the same time to pass the barrier; run one
    # after the other, the first would wait for the second and the barrier would break.
    cloud.barrier = threading.Barrier(2)
    cloud.barrier_names = {"a", "b"}
    items = engine.apply(engine.plan({"demo": [Thing(cloud, "a"), Thing(cloud, "b")]}))
    assert [i.result for i in items] == ["created", "created"]
    assert not cloud.barrier.broken


class LoneThing(Thing):
    """A kind that looks itself up by name: the engine may read it before what it depends on."""

    reads_alone = True


def test_kinds_that_read_alone_are_read_alongside_their_dependencies(engine: Engine, cloud: Cloud) -> None:
    # Each read waits at the barrier for the other: read in dependency order, it would break.
    barrier = threading.Barrier(2)
    read = Thing.read

    def meeting(self: Thing, ctx: Context) -> Observed | None:
        barrier.wait(timeout=5)
        return read(self, ctx)

    role = Thing(cloud, "role")
    function = LoneThing(cloud, "function", parent=Ref(role, "id"))
    Thing.read = meeting  # type: ignore[method-assign]
    try:
        items = engine.plan({"demo": [function, role]})
    finally:
        Thing.read = read  # type: ignore[method-assign]
    assert not barrier.broken
    assert [i.read_error for i in items] == [None, None]
    # Only the read came early: the function is still made after the role, with its id.
    engine.apply(items)
    assert created_order(cloud) == ["role", "function"]
    assert cloud.things["function"]["props"]["parent"] == "id-role"


def test_other_kinds_are_read_after_what_they_depend_on(engine: Engine, cloud: Cloud) -> None:
    engine.plan(stack(cloud))
    order = created_order(cloud, "read")
    assert order.index("role") < order.index("function") < order.index("permission")


def test_drift_is_planned_and_repaired(engine: Engine, cloud: Cloud) -> None:
    engine.apply(engine.plan(stack(cloud)))
    cloud.things["bucket"]["props"]["size"] = 7
    plan = {i.resource.name: i for i in engine.plan(stack(cloud))}
    assert plan["bucket"].action == "update"
    assert plan["bucket"].changes == {"size": (7, 1)}
    assert plan["bucket"].state == "drifted"
    engine.apply(list(plan.values()))
    assert cloud.things["bucket"]["props"]["size"] == 1


def test_failure_half_way_skips_dependents_and_next_up_finishes(engine: Engine, cloud: Cloud) -> None:
    cloud.fail_on = {("create", "function")}
    items = {i.resource.name: i for i in engine.apply(engine.plan(stack(cloud)))}
    assert items["function"].result == "failed"
    assert "injected failure" in (items["function"].error or "")
    assert items["permission"].result == "skipped"
    assert items["role"].result == "created" and items["bucket"].result == "created"
    assert "permission" not in cloud.things

    cloud.fail_on = set()
    items = {i.resource.name: i for i in engine.apply(engine.plan(stack(cloud)))}
    assert items["function"].result == "created" and items["permission"].result == "created"
    assert items["role"].action == "noop"


def test_teardown_deletes_in_reverse_order(engine: Engine, cloud: Cloud) -> None:
    engine.apply(engine.plan(stack(cloud)))
    engine.teardown(engine.plan_teardown(stack(cloud)))
    order = created_order(cloud, "delete")
    assert order.index("permission") < order.index("function") < order.index("role")
    assert cloud.things == {}


def test_teardown_from_partial_state(engine: Engine, cloud: Cloud) -> None:
    cloud.fail_on = {("create", "function")}
    engine.apply(engine.plan(stack(cloud)))
    cloud.fail_on = set()
    items = {i.resource.name: i for i in engine.teardown(engine.plan_teardown(stack(cloud)))}
    assert items["function"].action == "absent" and items["permission"].action == "absent"
    assert items["role"].result == "deleted"
    assert cloud.things == {}


def test_unowned_resource_stops_up_before_any_write_and_survives_teardown(engine: Engine, cloud: Cloud) -> None:
    cloud.things["function"] = {"props": {"size": 9, "parent": None}, "tags": {"owner": "someone-else"}}
    items = engine.plan(stack(cloud))
    with pytest.raises(PreflightError) as raised:
        engine.apply(items)
    assert "thing function: exists but was not created by logpipe" in str(raised.value)
    assert [v for v, _ in cloud.calls if v != "read"] == []

    teardown = {i.resource.name: i for i in engine.plan_teardown(stack(cloud))}
    assert teardown["function"].action == "keep"
    engine.teardown(list(teardown.values()))
    assert cloud.things["function"]["tags"] == {"owner": "someone-else"}
    assert ("delete", "function") not in cloud.calls


def test_adopt_takes_over_an_unowned_resource(engine: Engine, cloud: Cloud) -> None:
    cloud.things["bucket"] = {"props": {"size": 1, "parent": None}, "tags": {}}
    items = {i.resource.name: i for i in engine.apply(engine.plan(stack(cloud), adopt=True))}
    assert items["bucket"].result == "adopted"
    assert cloud.things["bucket"]["tags"]["managed-by"] == "logpipe"


def test_teardown_keeps_what_another_pipeline_uses(engine: Engine, cloud: Cloud) -> None:
    engine.apply(engine.plan(stack(cloud)))
    items = {i.resource.name: i for i in engine.plan_teardown(stack(cloud), keep={"thing:bucket"})}
    assert items["bucket"].action == "keep"
    engine.teardown(list(items.values()))
    assert set(cloud.things) == {"bucket"}


def test_same_resource_declared_by_two_pipelines_exists_once(engine: Engine, cloud: Cloud) -> None:
    declared = {"one": [Thing(cloud, "shared"), Thing(cloud, "x")], "two": [Thing(cloud, "shared")]}
    items = engine.apply(engine.plan(declared))
    assert [i.resource.name for i in items].count("shared") == 1
    shared = next(i for i in items if i.resource.name == "shared")
    assert shared.pipelines == ["one", "two"]
    assert created_order(cloud).count("shared") == 1


def test_dependency_cycle_is_reported(engine: Engine, cloud: Cloud) -> None:
    from logpipe.engine.graph import CycleError

    a = Thing(cloud, "a")
    b = Thing(cloud, "b", parent=Ref(a, "id"))
    a.parent = Ref(b, "id")
    with pytest.raises(CycleError):
        engine.plan({"demo": [a, b]})


def test_a_read_that_breaks_is_an_error_not_a_missing_resource(engine: Engine, cloud: Cloud) -> None:
    """A network fault while reading must never be taken for "absent", which would mean create."""
    engine.apply(engine.plan(stack(cloud)))

    class Unreachable(Thing):
        def read(self, ctx: Context) -> Observed | None:
            raise ConnectionError("endpoint unreachable")

    broken = Unreachable(cloud, "bucket")
    items = {i.resource.name: i for i in engine.plan({"demo": [broken]})}
    assert items["bucket"].state == "error"
    assert "endpoint unreachable" in items["bucket"].detail
    with pytest.raises(PreflightError, match="thing bucket: cannot read: endpoint unreachable"):
        engine.apply(list(items.values()))
    assert [n for v, n in cloud.calls if v == "create"].count("bucket") == 1  # only the first up made it

    teardown = {i.resource.name: i for i in engine.plan_teardown({"demo": [broken]})}
    assert teardown["bucket"].action == "keep"


def test_conflict_message_names_the_stack_prefix(engine: Engine, cloud: Cloud) -> None:
    cloud.things["bucket"] = {"props": {"size": 1, "parent": None}, "tags": {}}
    items = engine.plan({"demo": [Thing(cloud, "bucket")]})
    assert "no logpipe:stack=demogo / managed-by=logpipe tags" in engine.problems(items)[0]
