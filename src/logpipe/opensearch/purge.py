"""The lab's clean-up of FlowLog indices made before the transform Lambda was in place.

Documents indexed before the transform carry ``start`` as epoch seconds (or only the raw
``message`` line), so their index maps ``start`` as a number or not at all, and Dashboards cannot
use it as the time field. Such an index is found by its mapping, never by name or date, and
deleted only by its exact name: an index whose ``start`` is a date is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass

from logpipe.opensearch import indices
from logpipe.opensearch.client import OpenSearchClient, path_part
from logpipe.opensearch.templates import INDEX_PATTERNS

PATTERN, TIME_FIELD = INDEX_PATTERNS["flowlog"]


@dataclass(frozen=True)
class Candidate:
    index: str
    mapped_as: str | None  # None: the index has no ``start`` field at all
    documents: int

    @property
    def reason(self) -> str:
        return f"{TIME_FIELD} mapped as {self.mapped_as}" if self.mapped_as else f"no {TIME_FIELD} field"


def find(client: OpenSearchClient, pattern: str = PATTERN) -> tuple[list[Candidate], list[str]]:
    """(indices to purge, indices that are fine) among the FlowLog indices (``vpc-flowlog-*``)."""
    types = indices.time_field_types(client, pattern, TIME_FIELD)
    bad = {i: t for i, t in types.items() if t not in ("date", "date_nanos")}
    counts = indices.doc_counts(client, pattern) if bad else {}
    candidates = [Candidate(i, t, counts.get(i, 0)) for i, t in sorted(bad.items())]
    good = sorted(i for i in types if i not in bad)
    return candidates, good


def delete(client: OpenSearchClient, candidates: list[Candidate]) -> list[str]:
    """Delete each index by its exact name (never a wildcard); returns the names deleted."""
    done = []
    for candidate in candidates:
        client.request("DELETE", f"/{path_part(candidate.index)}", expect=(200, 404))
        done.append(candidate.index)
    return done
