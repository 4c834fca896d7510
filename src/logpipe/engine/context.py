"""Everything a resource kind needs while it runs: config, AWS clients, ownership tags, outputs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from logpipe.aws import Aws
from logpipe.config import Config
from logpipe.engine.clock import Clock
from logpipe.engine.model import UNKNOWN, Ref, Resource

OWNER_TAG = "managed-by"
OWNER_VALUE = "logpipe"
STACK_TAG = "logpipe:stack"


class Context:
    """Per-run state shared by all resources. Outputs are filled in as resources are read or made."""

    def __init__(
        self,
        config: Config,
        aws: Aws,
        *,
        opensearch_factory: Callable[[Context], Any] | None = None,
        opensearch_url: str | None = None,
        sandbox: bool = False,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.aws = aws
        self.sandbox = sandbox
        # Data-plane URL override (config opensearch.endpoint_url, or the sandbox's stand-in).
        self.opensearch_url = opensearch_url
        # Long waits report here (stderr in the CLI) so a user sees what is happening.
        self.progress: Callable[[str], None] = progress or (lambda message: None)
        # teardown --delete-data: buckets that still hold objects are emptied and deleted too.
        self.delete_data = False
        # Waits and retries take their time from here (tests use a clock that never sleeps).
        self.clock = Clock()
        # True when ownership must come from each resource's own API (teardown), never from the
        # run's one listing of the stack's tags (see logpipe.resources.ownership).
        self.confirm_ownership = False
        self.outputs: dict[str, dict[str, Any]] = {}
        self.owned: dict[str, bool] = {}
        self._lock = threading.RLock()
        self._named_locks: dict[str, threading.Lock] = {}
        self._opensearch_factory = opensearch_factory
        self._opensearch: Any = None

    # naming and ownership --------------------------------------------------------
    @property
    def prefix(self) -> str:
        return self.config.prefix

    @property
    def region(self) -> str:
        return self.aws.region

    @property
    def account_id(self) -> str:
        return self.aws.account_id

    @property
    def partition(self) -> str:
        return self.aws.partition

    def name(self, *parts: str) -> str:
        """A deterministic resource name under the stack prefix: ``demogo-cloudtrail-indexer``."""
        return "-".join((self.prefix, *parts))

    @property
    def tags(self) -> dict[str, str]:
        """Tags every taggable resource logpipe creates carries; the first two mark ownership."""
        return {STACK_TAG: self.prefix, OWNER_TAG: OWNER_VALUE, **self.config.tags}

    def owns(self, tags: dict[str, str] | None) -> bool:
        tags = tags or {}
        return tags.get(STACK_TAG) == self.prefix and tags.get(OWNER_TAG) == OWNER_VALUE

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return ":".join(
            (
                "arn",
                self.partition,
                service,
                self.region if region else "",
                self.account_id if account else "",
                resource,
            )
        )

    # references ---------------------------------------------------------------
    def set_outputs(self, resource: Resource, outputs: dict[str, Any], *, owned: bool = True) -> None:
        with self._lock:
            self.outputs[resource.key] = dict(outputs)
            self.owned[resource.key] = owned

    def output_strings(self) -> set[str]:
        """Every ARN, id and name the resources of this run reported (read or just made)."""
        with self._lock:
            return {v for outputs in self.outputs.values() for v in outputs.values() if isinstance(v, str)}

    def is_owned(self, resource: Resource) -> bool:
        """Whether logpipe owns ``resource`` as read (or made) in this run: parents vouch for children."""
        with self._lock:
            return self.owned.get(resource.key, False)

    def resolve(self, value: Any) -> Any:
        """Replace every Ref inside ``value`` by the referenced output, or UNKNOWN before it exists."""
        if isinstance(value, Ref):
            with self._lock:
                outputs = self.outputs.get(value.resource.key)
            if outputs is None or value.attr not in outputs:
                return UNKNOWN
            found = outputs[value.attr]
            return found if value.template == "{}" else value.template.format(found)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.resolve(v) for v in value)
        return value

    def serialized(self, name: str) -> threading.Lock:
        """A lock for work that must not interleave in this run: resources that edit one remote
        document by read-modify-write (several pipelines' entries in one role mapping)."""
        with self._lock:
            return self._named_locks.setdefault(name, threading.Lock())

    # data plane -------------------------------------------------------------
    @property
    def opensearch(self) -> Any:
        """The OpenSearch data-plane client, built on first use (it needs the domain's endpoint)."""
        with self._lock:
            if self._opensearch is None:
                if self._opensearch_factory is None:
                    raise RuntimeError("no OpenSearch client configured for this run")
                self._opensearch = self._opensearch_factory(self)
            return self._opensearch


def contains_unknown(value: Any) -> bool:
    if value is UNKNOWN:
        return True
    if isinstance(value, dict):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_unknown(v) for v in value)
    return False
