"""The one reconcile loop: read -> plan -> apply, status, teardown, for any resource declarations."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import ClientError

from logpipe.aws import MAX_PARALLEL_CALLS, describe_client_error
from logpipe.engine import graph
from logpipe.engine.context import Context, contains_unknown
from logpipe.engine.model import Observed, Resource
from logpipe.errors import LogpipeError, PreflightError

Action = Literal["create", "update", "noop", "conflict", "adopt", "delete", "keep", "absent", "missing-external"]
State = Literal["ok", "missing", "drifted", "not-owned", "external", "error"]


@dataclass
class Item:
    """One resource's plan line / status row / teardown line."""

    resource: Resource
    pipelines: list[str]
    observed: Observed | None = None
    read_error: str | None = None
    action: Action = "noop"
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    result: str = ""
    error: str | None = None
    note: str = ""

    @property
    def state(self) -> State:
        if self.read_error:
            return "error"
        if self.observed is None:
            return "missing"
        if not self.observed.owned:
            if self.resource.policy in ("external", "shared"):
                return "drifted" if self.changes else "external"
            return "not-owned"
        return "drifted" if self.changes else "ok"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "pipeline": ",".join(self.pipelines),
            "kind": self.resource.kind,
            "name": self.resource.name,
            "state": self.state,
            "action": self.action,
            "detail": self.detail,
        }
        if self.changes:
            out["changes"] = {k: {"from": _plain(a), "to": _plain(b)} for k, (a, b) in self.changes.items()}
        if self.result:
            out["result"] = self.result
        if self.error:
            out["error"] = self.error
        return out

    @property
    def detail(self) -> str:
        if self.error:
            return self.error
        if self.read_error:
            return self.read_error
        parts = []
        if self.observed is not None and self.observed.note:
            parts.append(self.observed.note)
        if self.note:
            parts.append(self.note)
        if self.changes:
            parts.append("differs: " + ", ".join(sorted(self.changes)))
        return "; ".join(parts)


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return repr(value)


Reporter = Callable[[str, Item], None]


def _quiet(event: str, item: Item) -> None:
    return None


class Engine:
    """Plans, applies, reports and tears down declared resources. Pipelines never loop themselves."""

    def __init__(self, ctx: Context, reporter: Reporter = _quiet, *, max_workers: int = MAX_PARALLEL_CALLS) -> None:
        self.ctx = ctx
        self.reporter = reporter
        self.max_workers = max_workers
        self._lock = threading.Lock()

    # reading --------------------------------------------------------------------
    def read_all(self, declared: dict[str, list[Resource]]) -> list[Item]:
        """Read every resource (dependencies first, independent ones in parallel)."""
        owners: dict[str, list[str]] = {}
        roots: list[Resource] = []
        for pipeline, resources in declared.items():
            for resource in resources:
                resource.pipeline = resource.pipeline or pipeline
                owners.setdefault(resource.key, [])
                if pipeline not in owners[resource.key]:
                    owners[resource.key].append(pipeline)
                roots.append(resource)
        resources = graph.collect(roots)
        ordered = graph.topological(resources)
        items = {r.key: Item(r, owners.get(r.key) or [r.pipeline]) for r in ordered}

        def read_one(resource: Resource) -> bool:
            item = items[resource.key]
            try:
                item.observed = resource.read(self.ctx)
            except ClientError as exc:
                item.read_error = f"cannot read: {describe_client_error(exc)}"
            except LogpipeError as exc:
                item.read_error = str(exc)
            except Exception as exc:  # unreadable must never look like "missing" (which means create)
                item.read_error = f"cannot read: {_describe_error(exc)}"
            if item.observed is not None:
                self.ctx.set_outputs(resource, item.observed.outputs, owned=item.observed.owned)
            # A failed read must not stop the others: every problem is reported at once.
            return True

        graph.run_parallel(ordered, read_one, max_workers=self.max_workers, waits_for_nothing=lambda r: r.reads_alone)
        return [items[r.key] for r in ordered]

    # planning -------------------------------------------------------------------
    def plan(self, declared: dict[str, list[Resource]], *, adopt: bool = False) -> list[Item]:
        items = self.read_all(declared)
        for item in items:
            self._plan_item(item, adopt)
        return items

    def _plan_item(self, item: Item, adopt: bool) -> None:
        resource, observed = item.resource, item.observed
        if item.read_error:
            item.action = "noop"
            return
        if resource.policy == "external":
            item.action = "missing-external" if observed is None else "noop"
            return
        desired = resource.desired(self.ctx)
        if observed is None:
            item.action = "create"
            return
        if not observed.owned:
            if resource.policy == "shared":
                item.changes = resource.shared_diff(observed, desired)
                item.action = "update" if item.changes else "noop"
                return
            item.changes = resource.diff(observed, desired)
            item.action = "adopt" if adopt else "conflict"
            return
        item.changes = resource.diff(observed, desired)
        item.action = "update" if item.changes else "noop"

    def problems(self, items: list[Item]) -> list[str]:
        """Everything that must stop ``up`` before its first write."""
        out = []
        for item in items:
            where = f"{item.resource.kind} {item.resource.name}"
            if item.read_error:
                out.append(f"{where}: {item.read_error}")
            elif item.action == "missing-external":
                out.append(
                    f"{where}: does not exist ({item.resource.describe()}); logpipe uses it but never creates it"
                )
            elif item.action == "conflict":
                out.append(
                    f"{where}: exists but was not created by logpipe (no logpipe:stack={self.ctx.prefix} / "
                    "managed-by=logpipe tags); it is left untouched. Rename it, delete it, or pass --adopt"
                )
        return out

    # applying -------------------------------------------------------------------
    def apply(self, items: list[Item]) -> list[Item]:
        """Create/update what the plan says, dependencies first, independent work in parallel."""
        problems = self.problems(items)
        if problems:
            raise PreflightError(problems)
        by_key = {i.resource.key: i for i in items}

        def apply_one(resource: Resource) -> bool:
            item = by_key[resource.key]
            if item.action in ("noop", "missing-external"):
                return True
            self.reporter("start", item)
            try:
                self._apply_item(item)
            except Exception as exc:  # one failure must not hide the others' results
                item.error = _describe_error(exc)
                item.result = "failed"
                self.reporter("failed", item)
                return False
            self.reporter("done", item)
            return True

        outcome = graph.run_parallel([i.resource for i in items], apply_one, max_workers=self.max_workers)
        for key, state in outcome.items():
            if state == "skipped":
                by_key[key].result = "skipped"
                by_key[key].error = "not attempted: something it depends on failed"
                self.reporter("skipped", by_key[key])
        return items

    def _apply_item(self, item: Item) -> None:
        resource = item.resource
        desired = resource.desired(self.ctx)
        if contains_unknown(desired):
            raise LogpipeError(f"{resource.key}: a value it needs is still unknown after its dependencies ran")
        if item.action == "create":
            outputs = resource.create(self.ctx, desired)
            self.ctx.set_outputs(resource, outputs or {})
            item.result = "created"
            return
        observed = item.observed
        assert observed is not None
        if resource.policy == "shared" and not observed.owned:
            changes = resource.shared_diff(observed, desired)
        else:
            changes = resource.diff(observed, desired)
        item.changes = changes
        if not changes:
            item.result = "unchanged"
            return
        outputs = resource.update(self.ctx, observed, desired, changes)
        if outputs is not None:
            self.ctx.set_outputs(resource, {**observed.outputs, **outputs})
        item.result = "adopted" if item.action == "adopt" else "updated"

    # teardown -------------------------------------------------------------------
    def plan_teardown(self, declared: dict[str, list[Resource]], keep: set[str] | None = None) -> list[Item]:
        """Read everything, then mark what logpipe owns for deletion. ``keep``: keys other pipelines still use."""
        # Deleting on the word of a lagging tag index is not good enough: read each resource's own tags.
        self.ctx.confirm_ownership = True
        items = self.read_all(declared)
        keep = keep or set()
        for item in items:
            observed = item.observed
            if item.read_error:
                item.action = "keep"
            elif observed is None:
                item.action = "absent"
            elif item.resource.policy == "external" or not observed.owned:
                item.action = "keep"
                item.note = "not created by logpipe; left in place"
            elif item.resource.key in keep:
                item.action = "keep"
                item.note = "still used by another pipeline; left in place"
            else:
                item.action = "delete"
        return items

    def teardown(self, items: list[Item]) -> list[Item]:
        """Delete in reverse dependency order; a failure keeps what depends on it in place."""
        by_key = {i.resource.key: i for i in items}

        def delete_one(resource: Resource) -> bool:
            item = by_key[resource.key]
            if item.action != "delete":
                return True
            self.reporter("start", item)
            assert item.observed is not None
            try:
                resource.delete(self.ctx, item.observed)
            except Exception as exc:
                item.error = _describe_error(exc)
                item.result = "failed"
                self.reporter("failed", item)
                return False
            item.result = "deleted"
            self.reporter("done", item)
            return True

        outcome = graph.run_parallel(
            [i.resource for i in items], delete_one, reverse=True, max_workers=self.max_workers
        )
        for key, state in outcome.items():
            if state == "skipped" and by_key[key].action == "delete":
                by_key[key].result = "skipped"
                by_key[key].error = "not deleted: something that uses it could not be deleted"
                self.reporter("skipped", by_key[key])
        return items

    # status ---------------------------------------------------------------------
    def status(self, declared: dict[str, list[Resource]]) -> list[Item]:
        items = self.plan(declared)
        for item in items:
            if item.action == "conflict":
                item.note = "exists under logpipe's name but is not tagged as logpipe's"
        return items


def _describe_error(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return describe_client_error(exc)
    return str(exc) or type(exc).__name__
