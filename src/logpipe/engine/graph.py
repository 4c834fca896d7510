"""Dependency order and parallel execution over resource declarations."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from logpipe.aws import MAX_PARALLEL_CALLS
from logpipe.engine.model import Resource


class CycleError(RuntimeError):
    pass


def collect(resources: Iterable[Resource]) -> list[Resource]:
    """All resources plus their dependencies, each key once (first declaration wins), in input order."""
    seen: dict[str, Resource] = {}

    def visit(resource: Resource) -> None:
        if resource.key in seen:
            return
        seen[resource.key] = resource
        for dep in resource.dependencies():
            visit(dep)

    for resource in resources:
        visit(resource)
    return list(seen.values())


def dependency_map(resources: list[Resource]) -> dict[str, set[str]]:
    """key -> keys it depends on, limited to the given resources."""
    keys = {r.key for r in resources}
    return {r.key: {d.key for d in r.dependencies() if d.key in keys and d.key != r.key} for r in resources}


def topological(resources: list[Resource], *, reverse: bool = False) -> list[Resource]:
    """A stable order where every resource comes after what it depends on (before, with reverse)."""
    deps = dependency_map(resources)
    by_key = {r.key: r for r in resources}
    order: list[Resource] = []
    state: dict[str, int] = {}

    def visit(key: str, path: tuple[str, ...]) -> None:
        if state.get(key) == 2:
            return
        if state.get(key) == 1:
            raise CycleError(" -> ".join((*path, key)))
        state[key] = 1
        for dep in sorted(deps[key]):
            visit(dep, (*path, key))
        state[key] = 2
        order.append(by_key[key])

    for resource in resources:
        visit(resource.key, ())
    return list(reversed(order)) if reverse else order


def run_parallel(
    resources: list[Resource],
    work: Callable[[Resource], bool],
    *,
    reverse: bool = False,
    max_workers: int = MAX_PARALLEL_CALLS,
    waits_for_nothing: Callable[[Resource], bool] | None = None,
) -> dict[str, str]:
    """Run ``work`` on each resource once everything it waits for is done, in parallel.

    Forward order waits for dependencies; ``reverse`` waits for dependents (teardown).
    ``work`` returns False (or raises) to mark failure; anything waiting on a failed
    resource is not run. ``waits_for_nothing`` picks resources that start at once whatever they
    depend on. Returns key -> 'done' | 'failed' | 'skipped'.
    """
    deps = dependency_map(resources)
    if waits_for_nothing is not None:
        deps = {r.key: set() if waits_for_nothing(r) else deps[r.key] for r in resources}
    if reverse:
        flipped: dict[str, set[str]] = {k: set() for k in deps}
        for key, needs in deps.items():
            for need in needs:
                flipped[need].add(key)
        deps = flipped
    topological(resources)  # raises CycleError early
    by_key = {r.key: r for r in resources}
    result: dict[str, str] = {}
    pending = dict(deps)
    running: dict[Future, str] = {}

    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="logpipe") as pool:
        while pending or running:
            for key in [k for k, needs in pending.items() if all(n in result for n in needs)]:
                needs = pending.pop(key)
                if any(result[n] != "done" for n in needs):
                    result[key] = "skipped"
                    continue
                running[pool.submit(work, by_key[key])] = key
            if not running:
                continue
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                key = running.pop(future)
                try:
                    result[key] = "done" if future.result() is not False else "failed"
                except Exception:
                    result[key] = "failed"
    return result
