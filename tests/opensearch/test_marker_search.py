"""verify's marker search finds the test record whatever the index made of the marker field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from logpipe.opensearch import indices
from logpipe.sandbox.opensearch_standin import OpenSearchStandin
from tests.opensearch.conftest import BOTH, admin

ENGINES = BOTH  # the real engine is right where the emulator differs

MARKER = "logpipe-verify-0123456789abcdef"


@pytest.mark.parametrize(
    "mapping",
    [
        {"type": "keyword"},
        # Dynamic mapping's guess for a string when no template was there: text plus .keyword.
        {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
        {"type": "text"},
    ],
    ids=["keyword", "text+keyword", "text"],
)
def test_marker_is_found_in_keyword_and_text_fields(
    mapping: dict[str, Any], os_run: Callable[..., Any], standin: OpenSearchStandin
) -> None:
    body = {"mappings": {"properties": {"httpRequest": {"properties": {"requestId": mapping}}}}}
    assert admin(standin, "PUT", "/waf-log-2026-01-01", body).ok
    doc = {"httpRequest": {"requestId": MARKER}}
    assert admin(standin, "POST", "/waf-log-2026-01-01/_doc?refresh=true", doc).ok
    other = {"httpRequest": {"requestId": "logpipe-verify-ffffffffffffffff"}}
    assert admin(standin, "POST", "/waf-log-2026-01-01/_doc?refresh=true", other).ok

    found = indices.find_marker(os_run().ctx.opensearch, "waf-log-*", "httpRequest.requestId", MARKER)

    assert found == doc


def test_no_index_yet_is_not_found_not_an_error(os_run: Callable[..., Any], standin: OpenSearchStandin) -> None:
    assert indices.find_marker(os_run().ctx.opensearch, "waf-log-*", "httpRequest.requestId", MARKER) is None
