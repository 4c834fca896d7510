"""What a pipeline is: a named list of resource declarations, plus checks only it knows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from logpipe.engine.context import Context
from logpipe.engine.model import Resource

if TYPE_CHECKING:
    from logpipe.verify import Probe


class Pipeline:
    """Subclasses declare resources; the engine does all reading, planning and changing."""

    name: ClassVar[str]
    summary: ClassVar[str] = ""

    def enabled(self, ctx: Context) -> bool:
        section = getattr(ctx.config.pipelines, self.name, None)
        return bool(getattr(section, "enabled", True))

    def resources(self, ctx: Context) -> list[Resource]:
        raise NotImplementedError

    def checks(self, ctx: Context) -> list[str]:
        """Preflight problems visible from the config and context alone (run before any read)."""
        return []

    def writer_role_names(self, ctx: Context) -> list[str]:
        """IAM roles of this pipeline that write to OpenSearch (the OpenSearch side maps them)."""
        return []

    def probes(self, ctx: Context) -> list[Probe]:
        """Test records `logpipe verify` sends through this pipeline (see logpipe.verify)."""
        return []

    def health(self, ctx: Context) -> list[dict[str, Any]]:
        """Extra status rows (data freshness and the like); never raises for a missing index.

        By default: documents in this pipeline's indices over the last 24 h and the newest one.
        """
        from logpipe.opensearch.health import freshness_rows

        return freshness_rows(ctx, self.name)
