"""The stand-in's saved-objects import answers as OpenSearch Dashboards' ``_import`` does.

Each expectation follows ``src/core/server/saved_objects`` of OpenSearch Dashboards 2.x:
``routes/import.ts`` (multipart ``file``, ``.ndjson`` only, ``overwrite`` xor ``createNewCopies``),
``import/collect_saved_objects.ts`` (non-unique objects refused, unsupported types per object),
``import/validate_references.ts`` (index patterns and saved searches must exist),
``import/check_conflicts.ts`` and ``import/create_saved_objects.ts`` (a conflict or a missing
reference leaves everything unwritten) and the visualization migrations (``visState`` parsed).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

from logpipe.sandbox.opensearch_standin import OpenSearchStandin

ADMIN = ("admin", "Master-Passw0rd!")
SO = "/_dashboards/api/saved_objects"
XSRF = {"osd-xsrf": "true"}
INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"
PATTERN = {"type": "index-pattern", "id": "logs", "attributes": {"title": "logs-*", "timeFieldName": "t"}}


@pytest.fixture
def standin(make_standin: Callable[..., OpenSearchStandin]) -> OpenSearchStandin:
    return make_standin(master_password=ADMIN[1])


def vis(id_: str, *, pattern: str = "logs", vis_state: str | None = None, **extra: Any) -> dict[str, Any]:
    state = vis_state if vis_state is not None else json.dumps({"title": id_, "type": "table", "aggs": []})
    return {
        "type": "visualization",
        "id": id_,
        "attributes": {"title": f"chart {id_}", "visState": state},
        "references": [{"name": INDEX_REF, "type": "index-pattern", "id": pattern}],
        **extra,
    }


def dashboard(id_: str, *panels: str) -> dict[str, Any]:
    return {
        "type": "dashboard",
        "id": id_,
        "attributes": {"title": f"board {id_}", "panelsJSON": "[]"},
        "references": [{"name": f"panel_{i}", "type": "visualization", "id": p} for i, p in enumerate(panels)],
    }


def ndjson(*objects: Any) -> bytes:
    return "".join(json.dumps(o) + "\n" for o in objects).encode()


def upload(
    standin: OpenSearchStandin, content: bytes, *, filename: str = "export.ndjson", **params: str
) -> requests.Response:
    return requests.post(
        f"{standin.url}{SO}/_import",
        params=params,
        files={"file": (filename, content, "application/ndjson")},
        auth=ADMIN,
        headers=XSRF,
        timeout=30,
    )


def stored(standin: OpenSearchStandin, type_: str, id_: str) -> dict[str, Any] | None:
    reply = requests.get(f"{standin.url}{SO}/{type_}/{id_}", auth=ADMIN, timeout=30)
    return reply.json() if reply.status_code == 200 else None


def test_import_creates_every_object_with_its_references(standin: OpenSearchStandin) -> None:
    reply = upload(standin, ndjson(PATTERN, vis("a"), vis("b"), dashboard("d", "a", "b")))

    assert reply.status_code == 200
    body = reply.json()
    assert body["success"] is True and body["successCount"] == 4 and "errors" not in body
    assert {(r["type"], r["id"]) for r in body["successResults"]} == {
        ("index-pattern", "logs"),
        ("visualization", "a"),
        ("visualization", "b"),
        ("dashboard", "d"),
    }
    assert body["successResults"][1]["meta"] == {"title": "chart a", "icon": "visualizeApp"}
    board = stored(standin, "dashboard", "d")
    assert board is not None and [r["id"] for r in board["references"]] == ["a", "b"]
    # Migrated on the way in: the object carries the type's current migration version.
    assert stored(standin, "visualization", "a")["migrationVersion"] == {"visualization": "7.10.0"}
    assert [r.path for r in standin.mutating_requests] == [f"{SO}/_import"]


def test_a_missing_index_pattern_fails_its_visualizations_and_writes_nothing(standin: OpenSearchStandin) -> None:
    reply = upload(standin, ndjson(vis("a", pattern="gone"), vis("b"), dashboard("d", "a")))

    body = reply.json()
    assert reply.status_code == 200 and body["success"] is False
    assert body["errors"] == [
        {
            "id": "a",
            "type": "visualization",
            "title": "chart a",
            "meta": {"title": "chart a", "icon": "visualizeApp"},
            "error": {"type": "missing_references", "references": [{"type": "index-pattern", "id": "gone"}]},
        },
        {
            "id": "b",
            "type": "visualization",
            "title": "chart b",
            "meta": {"title": "chart b", "icon": "visualizeApp"},
            "error": {"type": "missing_references", "references": [{"type": "index-pattern", "id": "logs"}]},
        },
    ]
    # A resolvable error leaves even the good objects unwritten (they count as would-succeed).
    assert body["successCount"] == 1
    assert stored(standin, "dashboard", "d") is None


def test_an_index_pattern_already_in_the_tenant_resolves_references(standin: OpenSearchStandin) -> None:
    assert upload(standin, ndjson(PATTERN)).json()["success"]

    body = upload(standin, ndjson(vis("a"))).json()

    assert body["success"] is True
    assert stored(standin, "visualization", "a") is not None


def test_references_between_dashboards_and_visualizations_are_not_checked(standin: OpenSearchStandin) -> None:
    # Dashboards validates only index-pattern and search references; a panel may point nowhere.
    body = upload(standin, ndjson(dashboard("d", "never-made"))).json()

    assert body["success"] is True
    assert stored(standin, "dashboard", "d") is not None


def test_existing_objects_conflict_unless_overwrite(standin: OpenSearchStandin) -> None:
    upload(standin, ndjson(PATTERN, vis("a")))
    changed = vis("a")
    changed["attributes"]["title"] = "renamed"

    refused = upload(standin, ndjson(changed, vis("b"))).json()

    assert refused["success"] is False
    assert [(e["id"], e["error"]) for e in refused["errors"]] == [("a", {"type": "conflict"})]
    assert stored(standin, "visualization", "a")["attributes"]["title"] == "chart a"
    assert stored(standin, "visualization", "b") is None

    replaced = upload(standin, ndjson(changed, vis("b")), overwrite="true").json()

    assert replaced["success"] is True and replaced["successCount"] == 2
    assert [r.get("overwrite") for r in replaced["successResults"]] == [True, None]
    assert stored(standin, "visualization", "a")["attributes"]["title"] == "renamed"


def test_overwrite_replaces_the_whole_object(standin: OpenSearchStandin) -> None:
    upload(standin, ndjson(PATTERN, vis("a")))
    edit = {"attributes": {"description": "mine"}}
    assert requests.put(f"{standin.url}{SO}/visualization/a", json=edit, auth=ADMIN, headers=XSRF).ok

    upload(standin, ndjson(vis("a")), overwrite="true")

    assert "description" not in stored(standin, "visualization", "a")["attributes"]


def test_new_copies_get_new_ids_and_references_follow(standin: OpenSearchStandin) -> None:
    upload(standin, ndjson(PATTERN, vis("a"), dashboard("d", "a")))

    body = upload(standin, ndjson(vis("a"), dashboard("d", "a")), createNewCopies="true").json()

    assert body["success"] is True
    new = {r["id"]: r["destinationId"] for r in body["successResults"]}
    assert set(new) == {"a", "d"} and new["a"] != "a"
    copy = stored(standin, "dashboard", new["d"])
    assert copy["references"][0]["id"] == new["a"]
    assert stored(standin, "dashboard", "d")["references"][0]["id"] == "a"  # the original is untouched


@pytest.mark.parametrize(
    ("params", "filename", "content", "status", "message"),
    [
        ({"overwrite": "true", "createNewCopies": "true"}, "x.ndjson", b"", 400, "cannot use [overwrite]"),
        ({}, "export.json", ndjson(PATTERN), 400, "Invalid file extension .json"),
        ({}, "x.ndjson", b'{"type": "index-pattern", "id": "x"}\n{not json\n', 400, "Unexpected token"),
        ({}, "x.ndjson", ndjson(vis("a"), vis("a")), 400, "Non-unique import objects detected: [visualization:a]"),
    ],
)
def test_unreadable_imports_are_400_and_change_nothing(
    standin: OpenSearchStandin, params: dict[str, str], filename: str, content: bytes, status: int, message: str
) -> None:
    reply = upload(standin, content, filename=filename, **params)

    assert reply.status_code == status
    assert reply.json()["error"] == "Bad Request" and message in reply.json()["message"]
    assert stored(standin, "index-pattern", "x") is None


def test_import_needs_a_multipart_file(standin: OpenSearchStandin) -> None:
    as_json = requests.post(f"{standin.url}{SO}/_import", json=[PATTERN], auth=ADMIN, headers=XSRF)
    assert as_json.status_code == 415
    other_field = requests.post(
        f"{standin.url}{SO}/_import", files={"upload": ("x.ndjson", ndjson(PATTERN))}, auth=ADMIN, headers=XSRF
    )
    assert other_field.status_code == 400
    assert other_field.json()["message"] == "[request body.file]: expected value of type [Stream] but got [undefined]"
    no_header = requests.post(f"{standin.url}{SO}/_import", files={"file": ("x.ndjson", ndjson(PATTERN))}, auth=ADMIN)
    assert no_header.status_code == 400
    assert stored(standin, "index-pattern", "logs") is None


def test_export_details_line_and_blank_lines_are_skipped(standin: OpenSearchStandin) -> None:
    content = ndjson(PATTERN) + b"\n" + ndjson({"exportedCount": 1, "missingRefCount": 0, "missingReferences": []})

    body = upload(standin, content).json()

    assert body == {
        "successCount": 1,
        "success": True,
        "successResults": [
            {"type": "index-pattern", "id": "logs", "meta": {"title": "logs-*", "icon": "indexPatternApp"}}
        ],
    }


def test_unsupported_types_fail_alone(standin: OpenSearchStandin) -> None:
    odd = {"type": "canvas-workpad", "id": "w", "attributes": {"title": "pad"}}

    body = upload(standin, ndjson(odd, PATTERN)).json()

    assert body["success"] is False and body["successCount"] == 1
    assert [(e["id"], e["error"]["type"]) for e in body["errors"]] == [("w", "unsupported_type")]
    assert stored(standin, "index-pattern", "logs") is not None


def test_a_visstate_that_is_not_json_fails_the_import_when_migrations_run(standin: OpenSearchStandin) -> None:
    broken = vis("a", vis_state='{"title": "a", "aggs": [')

    reply = upload(standin, ndjson(PATTERN, broken, vis("b")))

    assert reply.status_code == 500
    assert reply.json() == {
        "statusCode": 500,
        "error": "Internal Server Error",
        "message": "An internal server error occurred",
    }
    assert stored(standin, "index-pattern", "logs") is None and stored(standin, "visualization", "b") is None
    # An export already at the current migration version is stored as it is, as Dashboards does.
    current = vis("a", vis_state="{", migrationVersion={"visualization": "7.10.0"})
    assert upload(standin, ndjson(PATTERN, current)).json()["success"] is True


def test_single_create_runs_the_same_migration(standin: OpenSearchStandin) -> None:
    url = f"{standin.url}{SO}/visualization/v"
    no_state = requests.post(url, json={"attributes": {"title": "chart"}}, auth=ADMIN, headers=XSRF)
    assert no_state.status_code == 500
    bulk = requests.post(
        f"{standin.url}{SO}/_bulk_create", json=[vis("a"), vis("b", vis_state="[")], auth=ADMIN, headers=XSRF
    )
    assert bulk.status_code == 500
    assert stored(standin, "visualization", "a") is None
    good = requests.post(url, json={"attributes": vis("v")["attributes"]}, auth=ADMIN, headers=XSRF)
    assert good.status_code == 200 and good.json()["migrationVersion"] == {"visualization": "7.10.0"}
