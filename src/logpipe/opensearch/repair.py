"""Indices created with a wrong mapping, found by their mapping and repaired on request.

An index whose time field, address or marker field was typed by guesswork (documents arrived
before the pipeline's template: the lab's FlowLog clean-up, generalised) is found by comparing
its mapping with the template's declared types, never by name or date. The user chooses the
repair: delete it (its data is gone), or copy its documents into an index of the same name made
from the template (its data is kept, typed right). Indices that are mapped right are never
touched, and every index is named exactly, never by wildcard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from logpipe.opensearch import indices
from logpipe.opensearch.client import DataPlane, OpenSearchError, path_part

TEMP_SUFFIX = "-logpipe-repair"


@dataclass(frozen=True)
class Candidate:
    index: str
    problems: tuple[indices.Mismapped, ...]
    documents: int

    @property
    def reason(self) -> str:
        return "; ".join(p.reason for p in self.problems)


def find(
    client: DataPlane, pattern: str, expected: dict[str, str], *, required: str
) -> tuple[list[Candidate], list[str]]:
    """(mis-mapped indices, well-mapped indices) among those matching ``pattern``; ``required``: the time field."""
    problems: dict[str, list[indices.Mismapped]] = {}
    for found in indices.mismapped(client, pattern, expected, required=required):
        problems.setdefault(found.index, []).append(found)
    counts = indices.doc_counts(client, pattern)
    bad = [Candidate(i, tuple(p), counts.get(i, 0)) for i, p in sorted(problems.items())]
    good = sorted(i for i in counts if i not in problems)
    return bad, good


def delete(client: DataPlane, candidates: list[Candidate]) -> list[str]:
    """Delete each index by its exact name; returns the names deleted."""
    for candidate in candidates:
        indices.delete_index(client, candidate.index)
    return [c.index for c in candidates]


def reindex(client: DataPlane, candidate: Candidate, mappings: dict[str, Any]) -> int:
    """Rebuild ``candidate`` with ``mappings`` (the template's), keeping its documents and its name.

    The documents are copied to a temporary index made with those mappings, the old index is
    deleted, and they are copied back into an index of the old name, which the template types
    as it is created. A step that fails stops the repair and says where the documents are.
    """
    index = candidate.index
    temp = f"{index}{TEMP_SUFFIX}"
    client.call(
        lambda raw: raw.indices.create(index=temp, body={"mappings": mappings}),
        what=f"PUT /{path_part(temp)}",
    )
    copied = indices.copy_documents(client, index, temp)
    if copied < candidate.documents:
        raise OpenSearchError(
            f"repair of {index}: only {copied} of {candidate.documents} document(s) could be copied into {temp}; "
            f"{index} is left as it was ({temp} holds the copies)"
        )
    indices.delete_index(client, index)
    try:
        # Made empty first, so the template types it (and it exists even with no document to copy).
        client.call(lambda raw: raw.indices.create(index=index), what=f"PUT /{path_part(index)}")
        back = indices.copy_documents(client, temp, index)
    except OpenSearchError as exc:
        raise OpenSearchError(
            f"repair of {index}: the documents are safe in {temp}, but copying back failed: {exc}"
        ) from None
    indices.delete_index(client, temp)
    return back
