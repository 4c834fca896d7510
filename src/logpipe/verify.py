"""End-to-end check: send a marked test record into each pipeline, wait for it in OpenSearch.

Each pipeline describes its probe (how to inject a record that carries a unique marker,
and which field of which index pattern will hold the marker once indexed). This module
sends them all, then polls OpenSearch for every marker until found or the timeout.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from logpipe.engine.context import Context


@dataclass
class Probe:
    pipeline: str
    entry: str  # where the record goes in: "Firehose stream demogo-dns", ...
    index_pattern: str
    field: str  # keyword field that holds the marker once indexed
    send: Callable[[Context, str], None]
    marker: str = ""
    sent_at: float = 0.0
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


def new_marker() -> str:
    return f"logpipe-verify-{uuid.uuid4().hex[:16]}"


def find(ctx: Context, probe: Probe) -> dict[str, Any] | None:
    """The indexed test document, or None. A missing index simply means not yet."""
    body = {"size": 1, "query": {"term": {probe.field: probe.marker}}}
    response = ctx.opensearch.request(
        "POST",
        f"/{probe.index_pattern}/_search",
        body=body,
        params={"ignore_unavailable": "true", "allow_no_indices": "true"},
        expect=(200, 404),
    )
    if not response.ok:
        return None
    hits = (response.body or {}).get("hits", {}).get("hits", [])
    return hits[0]["_source"] if hits else None


def run_probes(
    ctx: Context,
    probes: list[Probe],
    *,
    timeout: float = 300.0,
    interval: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Probe]:
    for probe in probes:
        probe.marker = new_marker()
        probe.sent_at = time.monotonic()
        try:
            probe.send(ctx, probe.marker)
            ctx.progress(f"{probe.pipeline}: sent {probe.marker} into {probe.entry}")
        except Exception as exc:  # one pipeline's failure must not hide the others
            probe.error = f"could not send the test record: {exc}"
    deadline = time.monotonic() + timeout
    waiting = [p for p in probes if p.error is None]
    while waiting:
        for probe in list(waiting):
            document = find(ctx, probe)
            if document is not None:
                probe.found_after = time.monotonic() - probe.sent_at
                probe.document = document
                waiting.remove(probe)
                ctx.progress(f"{probe.pipeline}: found in {probe.index_pattern} after {probe.found_after:.0f} s")
        if not waiting or time.monotonic() >= deadline:
            break
        ctx.progress(f"waiting for {', '.join(p.pipeline for p in waiting)} ...")
        sleep(interval)
    for probe in waiting:
        probe.error = f"not in {probe.index_pattern} after {int(timeout)} s (field {probe.field} = {probe.marker})"
    return probes
