"""What every resource living inside the OpenSearch domain (data plane) shares."""

from __future__ import annotations

from typing import Any

from logpipe.engine.context import Context
from logpipe.engine.model import UNKNOWN, Observed, Ref, Resource
from logpipe.errors import LogpipeError
from logpipe.opensearch.client import OpenSearchError


class DataPlaneResource(Resource):
    """Read only once the domain is known to exist; every call goes through ``ctx.opensearch``.

    ``after`` are resources that must be in place first; the first access-policy kind among them
    is the gate: while logpipe's policy statements are not in place yet, a request the domain's
    edge refuses (an IAM 403, not a fine-grained one) means "cannot know yet", planned as new,
    instead of a preflight error that ``up`` itself would have fixed.
    Subclasses implement ``read_inside``.
    """

    #: Security-plugin kinds exist only with fine-grained access control.
    needs_fgac = False

    def __init__(self, name: str, domain: Resource, *, after: tuple[Resource, ...] = ()) -> None:
        super().__init__(name, depends_on=(domain, *after))
        self.domain_fgac = Ref(domain, "fgac")
        self._gate = next((r for r in after if r.kind == "opensearch-access-policy"), None)

    def domain_state(self, ctx: Context) -> str:
        """'missing' (domain not there yet), 'no-fgac' (kind not applicable) or 'ready'."""
        fgac = ctx.resolve(self.domain_fgac)
        if fgac is UNKNOWN:
            return "missing"
        if self.needs_fgac and not fgac:
            return "no-fgac"
        return "ready"

    def read(self, ctx: Context) -> Observed | None:
        state = self.domain_state(ctx)
        if state == "missing":
            return None
        if state == "no-fgac":
            # Without fine-grained access control there are no roles: nothing to do, nothing to report.
            return Observed(
                self.desired(ctx),
                {},
                note="fine-grained access control is off: the domain access policy alone decides who writes",
            )
        try:
            return self.read_inside(ctx)
        except OpenSearchError as exc:
            if exc.edge_denied and self._gate is not None and not ctx.is_owned(self._gate):
                return None
            raise

    def read_inside(self, ctx: Context) -> Observed | None:
        raise NotImplementedError

    def refuse_if_foreign(self, ctx: Context) -> None:
        """Before creating: something under this name that logpipe did not make is never overwritten.

        (The plan may not have been able to look, see the class notes, or someone was quicker.)
        """
        found = self.read_inside(ctx)
        if found is not None and not found.owned:
            raise LogpipeError(f"{self.kind} {self.name} exists but was not created by logpipe; it is left untouched")

    def client(self, ctx: Context) -> Any:
        return ctx.opensearch
