"""What a pipeline is: one declaration of everything specific to a log source.

A pipeline module declares, in one class: its config section (``settings``), its AWS resources
(``source_resources``), where its documents land and how they are typed (``index``), the IAM roles
that write them (``writer_role_names``), the test records ``verify`` sends (``probes``), its
health checks (``health``) and its dashboard (``dashboard``, a Dashboards export file shipped
beside the module). Its OpenSearch pieces (template, writer role and mapping, index pattern,
dashboard) follow from those, so ``up P`` alone leaves P working; the engine does all reading,
planning and changing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any, ClassVar

from logpipe.config import PipelineSettings
from logpipe.engine import graph
from logpipe.engine.context import Context
from logpipe.engine.model import Resource
from logpipe.opensearch import mappings
from logpipe.pipelines import search
from logpipe.pipelines.search import Row


@dataclass(frozen=True)
class IndexSpec:
    """Where a pipeline's documents land, and the template that types them from the first one.

    ``fields``: dotted path -> mapping of every field whose type matters (time field, addresses,
    ids and enums, counters); other strings become ``keyword``. ``variable``: objects whose keys or
    value types change from document to document (stored as the engine allows, see
    ``opensearch.mappings.FLAT_OBJECT_MODES``). ``replaced_field``: set on a document that replaced
    a different one under the same id, counted by ``status``.
    """

    pattern: str
    time_field: str
    fields: dict[str, dict[str, Any]]
    description: str
    variable: tuple[str, ...] = ()
    replaced_field: str = ""

    def template(self, mode: str) -> dict[str, Any]:
        return mappings.index_template(
            self.pattern, copy.deepcopy(self.fields), self.description, variable=self.variable, mode=mode
        )

    def expected_types(self) -> dict[str, str]:
        """Declared field -> type, which every existing index must agree with."""
        return mappings.leaf_types(self.fields)


@dataclass(frozen=True)
class LogGroupErrors:
    """A CloudWatch Logs group where a failure of this data path is written (Firehose delivery
    errors, a Lambda's errors); ``pattern`` is a CloudWatch Logs filter pattern."""

    log_group: str
    what: str
    pattern: str = ""


@dataclass(frozen=True)
class BucketFailures:
    """An S3 prefix where records this data path could not deliver are parked."""

    bucket: str
    prefix: str
    what: str


ErrorSource = LogGroupErrors | BucketFailures


@dataclass
class Probe:
    """A marked test record ``logpipe verify`` sends where AWS would deliver real ones."""

    pipeline: str
    entry: str  # where the record goes in: "Firehose stream demogo-dns", ...
    index_pattern: str
    field: str  # keyword field that holds the marker once indexed
    send: Callable[[Context, str], None]
    errors: tuple[ErrorSource, ...] = ()
    marker: str = ""
    sent_at: float = 0.0
    sent_epoch: float = 0.0
    found_after: float | None = None
    error: str | None = None
    document: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline,
            "entry": self.entry,
            "index_pattern": self.index_pattern,
            "marker": self.marker,
            "ok": self.found_after is not None,
            "seconds": None if self.found_after is None else round(self.found_after, 1),
            "error": self.error,
        }


class Pipeline:
    """Subclasses declare; the engine reads, plans and changes. See the module notes."""

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    settings: ClassVar[type[PipelineSettings]] = PipelineSettings
    #: False for the domain-wide OpenSearch side, which has no index, probe or freshness of its own.
    carries_data: ClassVar[bool] = True
    #: Its dashboard: a Dashboards saved-objects export (NDJSON), relative to this package
    #: (``dashboards/<name>.ndjson``); "" for none. See ``pipelines.dashboard_file`` for what it may hold.
    dashboard: ClassVar[str] = ""

    def section(self, ctx: Context) -> Any:
        """This pipeline's config section (an instance of ``settings``)."""
        return getattr(ctx.config.pipelines, self.name)

    def enabled(self, ctx: Context) -> bool:
        return bool(self.section(ctx).enabled)

    # declarations ------------------------------------------------------------------
    def source_resources(self, ctx: Context) -> list[Resource]:
        """The AWS side: everything from the log source to the writer into OpenSearch."""
        raise NotImplementedError

    def index(self, ctx: Context) -> IndexSpec:
        raise NotImplementedError

    def writer_role_names(self, ctx: Context) -> list[str]:
        """IAM roles of this pipeline that write to OpenSearch (mapped to its writer role)."""
        raise NotImplementedError

    def probes(self, ctx: Context) -> list[Probe]:
        raise NotImplementedError

    def checks(self, ctx: Context) -> list[str]:
        """Preflight problems visible from the config and context alone (run before any read)."""
        return []

    def health(self, ctx: Context) -> list[Row]:
        """Status rows beside the resources: mis-mapped indices and data freshness; never raises."""
        return search.health_rows(ctx, self)

    def dashboard_file(self) -> Traversable | None:
        """The packaged file ``dashboard`` names (it ships in the wheel as package data)."""
        if not self.dashboard:
            return None
        return files(__package__).joinpath(*self.dashboard.split("/"))

    # derived -----------------------------------------------------------------------
    def resources(self, ctx: Context) -> list[Resource]:
        """Everything ``up`` makes for this pipeline: its AWS side and its OpenSearch pieces, with every
        log source ordered after the template and role mapping, so the first document is typed and let in."""
        sources = self.source_resources(ctx)
        pieces = search.pieces(ctx, self)
        for resource in graph.collect(sources):
            if resource.starts_data_flow:
                for gate in pieces.gates:
                    resource.add_dependency(gate)
        return [*sources, *pieces.resources, *pieces.views]
