"""Each pipeline's dashboard file: shipped with the package, and every panel reads fields its
pipeline's index template has, with a type it can aggregate; a hand-edited file that breaks
this fails here, naming the file and the object."""

from __future__ import annotations

import json
import tomllib
from fnmatch import fnmatch
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from logpipe import pipelines as registry
from logpipe.opensearch.mappings import FLAT_OBJECT_MODES
from logpipe.pipelines import dashboard_file
from logpipe.pipelines.dashboard_file import fields_used, query_fields
from logpipe.resources.dashboard import MARKER
from logpipe.resources.index_pattern import pattern_id
from tests.conftest import REPO
from tests.pipelines.test_registry import config_view

PIPELINES = list(registry.REGISTRY)
AGGREGATABLE = {"keyword", "ip", "date", "long", "integer", "short", "byte", "double", "float", "boolean"}


def objects(name: str) -> list[dict[str, Any]]:
    text = registry.load(name).dashboard_file().read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def template_types(name: str, mode: str) -> dict[str, str]:
    """field path -> type, walked out of the template body `up` PUTs (not out of FIELDS)."""
    body = registry.load(name).index(config_view()).template(mode)
    out: dict[str, str] = {}

    def walk(properties: dict[str, Any], prefix: str) -> None:
        for key, mapping in properties.items():
            path = f"{prefix}{key}"
            if "properties" in mapping:
                walk(mapping["properties"], f"{path}.")
                continue
            out[path] = mapping["type"]
            for sub, sub_mapping in (mapping.get("fields") or {}).items():
                out[f"{path}.{sub}"] = sub_mapping["type"]

    walk(body["template"]["mappings"]["properties"], "")
    return out


def load(name: str, file: Any = None) -> dashboard_file.Definition:
    pipeline = registry.load(name)
    spec = pipeline.index(config_view())
    return dashboard_file.load(
        file or pipeline.dashboard_file(),
        pipeline=name,
        pattern_id=pattern_id(name),
        fields=dashboard_file.template_fields(spec.fields),
    )


@pytest.mark.parametrize("name", PIPELINES)
def test_every_pipeline_has_a_dashboard_of_at_least_five_visualizations(name: str) -> None:
    found = objects(name)
    boards = [o for o in found if o["type"] == "dashboard"]
    charts = [o for o in found if o["type"] == "visualization"]

    assert [b["id"] for b in boards] == [f"logpipe-{name}"]
    assert len(charts) >= 5
    assert {r["id"] for r in boards[0]["references"]} == {c["id"] for c in charts}, "every chart is on the dashboard"
    assert all(o["attributes"]["description"].startswith(MARKER) for o in found)
    assert load(name).problems == ()


@pytest.mark.parametrize("mode", FLAT_OBJECT_MODES)
@pytest.mark.parametrize("name", PIPELINES)
def test_every_field_a_panel_uses_is_aggregatable_in_the_template(name: str, mode: str) -> None:
    types = template_types(name, mode)
    used = [(o["id"], field, use) for o in objects(name) for field, use in fields_used(o)]

    assert used, "the field check must see the panels' fields"
    for object_id, field, use in used:
        assert types.get(field) in AGGREGATABLE, f"{object_id}: {field} ({use}) is {types.get(field)} in {mode}"


@pytest.mark.parametrize("name", PIPELINES)
def test_every_visualization_reads_the_pipelines_index_pattern(name: str) -> None:
    for obj in objects(name):
        if obj["type"] != "visualization":
            continue
        search = json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        [ref] = [r for r in obj["references"] if r["name"] == search["indexRefName"]]
        assert ref == {"id": f"logpipe-{name}", "name": search["indexRefName"], "type": "index-pattern"}
        assert json.loads(obj["attributes"]["visState"])["aggs"]


def test_the_definitions_ship_as_package_data() -> None:
    """Found through importlib.resources (as an installed wheel finds them), and covered by the
    package-data globs setuptools puts in the wheel."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["logpipe"]
    for name in PIPELINES:
        resource = files("logpipe.pipelines").joinpath("dashboards", f"{name}.ndjson")
        assert resource.is_file() and registry.load(name).dashboard_file() == resource
        assert any(fnmatch(f"pipelines/dashboards/{name}.ndjson", glob) for glob in globs), globs
    packaged = {p.name for p in (REPO / "src/logpipe/pipelines/dashboards").iterdir()}
    assert packaged == {f"{name}.ndjson" for name in PIPELINES}, "no stray or missing definition"


# --------------------------------------------------------------------------- a hand-edited file


def edited(tmp_path: Path, name: str, change: Any) -> Path:
    """A copy of ``name``'s definition with ``change(line_objects)`` applied."""
    found = objects(name)
    change(found)
    path = tmp_path / f"{name}.ndjson"
    path.write_text("".join(json.dumps(o) + "\n" for o in found))
    return path


def vis_state(obj: dict[str, Any]) -> dict[str, Any]:
    return json.loads(obj["attributes"]["visState"])


def test_a_field_the_template_lacks_fails_with_file_line_and_object(tmp_path: Path) -> None:
    def rename(found: list[dict[str, Any]]) -> None:
        target = next(o for o in found if o["id"] == "logpipe-waf-top-uris")
        state = vis_state(target)
        state["aggs"][1]["params"]["field"] = "httpRequest.url"
        target["attributes"]["visState"] = json.dumps(state)

    path = edited(tmp_path, "waf", rename)

    problems = load("waf", path).problems

    line = next(i for i, o in enumerate(objects("waf"), start=1) if o["id"] == "logpipe-waf-top-uris")
    assert problems == (
        f"{path} line {line} (visualization logpipe-waf-top-uris): field httpRequest.url (terms) "
        "is not in the waf index template",
    )


def test_a_field_of_the_wrong_type_fails(tmp_path: Path) -> None:
    def sum_of_a_keyword(found: list[dict[str, Any]]) -> None:
        target = next(o for o in found if o["id"] == "logpipe-flowlog-by-protocol")
        state = vis_state(target)
        state["aggs"][0]["params"]["field"] = "action"
        target["attributes"]["visState"] = json.dumps(state)

    problems = load("flowlog", edited(tmp_path, "flowlog", sum_of_a_keyword)).problems

    assert len(problems) == 1
    assert "(visualization logpipe-flowlog-by-protocol): field action is keyword in the template" in problems[0]
    assert "a sum aggregation needs" in problems[0]


def test_a_query_on_a_missing_field_fails(tmp_path: Path) -> None:
    def query(found: list[dict[str, Any]]) -> None:
        target = next(o for o in found if o["id"] == "logpipe-waf-blocked-by-rule-group")
        search = json.loads(target["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        search["query"]["query"] = "verdict:BLOCK"
        target["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"] = json.dumps(search)

    [problem] = load("waf", edited(tmp_path, "waf", query)).problems

    assert problem.endswith(
        "(visualization logpipe-waf-blocked-by-rule-group): field verdict (query) is not in the waf index template"
    )


def test_a_line_that_does_not_parse_fails_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "dns.ndjson"
    lines = registry.load("dns").dashboard_file().read_text().splitlines()
    lines[2] = lines[2][:-5]
    path.write_text("\n".join(lines) + "\n")

    problems = load("dns", path).problems

    assert problems[0].startswith(f"{path} line 3: not JSON")
    # The visualization lost with the line is still on a panel: that is named too.
    assert any("panel panel_2 shows visualization" in p for p in problems)


def test_a_visstate_that_does_not_parse_fails(tmp_path: Path) -> None:
    def break_state(found: list[dict[str, Any]]) -> None:
        found[0]["attributes"]["visState"] = found[0]["attributes"]["visState"][:-1]

    problems = load("dns", edited(tmp_path, "dns", break_state)).problems

    assert problems == (
        f"{tmp_path / 'dns.ndjson'} line 1 (visualization {objects('dns')[0]['id']}): visState is not a JSON text",
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda found: found[0]["attributes"].update(description="mine"), "the description must start with"),
        (lambda found: found[0].update(id="my-chart"), "a visualization's id must start with logpipe-dns-"),
        (lambda found: found.append(dict(found[0])), "appears twice"),
        (lambda found: found[0]["references"][0].update(id="other-pattern"), "reads index pattern other-pattern"),
        (lambda found: found[-1]["references"].pop(), "on no panel of logpipe-dns"),
        (
            lambda found: found.append({"type": "index-pattern", "id": "logpipe-dns", "attributes": {}}),
            "only visualizations and the dashboard belong in this file",
        ),
    ],
)
def test_what_would_break_ownership_or_panels_fails(tmp_path: Path, change: Any, expected: str) -> None:
    problems = load("dns", edited(tmp_path, "dns", change)).problems

    assert any(expected in p for p in problems), problems


def test_an_export_from_dashboards_loads_as_it_is(tmp_path: Path) -> None:
    """A maintainer's export keeps Dashboards' own fields and its summary line; both are fine."""

    def exported(found: list[dict[str, Any]]) -> None:
        for obj in found:
            obj.update(updated_at="2026-01-01T00:00:00.000Z", version="WzEsMV0=")
        found.append({"exportedCount": len(found), "missingRefCount": 0, "missingReferences": []})

    definition = load("securityhub", edited(tmp_path, "securityhub", exported))

    assert definition.problems == () and len(definition.objects) == len(objects("securityhub"))


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("action:BLOCK", ["action"]),
        ("ProductName:Config and Compliance.Status:FAILED", ["ProductName", "Compliance.Status"]),
        ('not errorCode:* or (eventName:"a:b" and awsRegion : us-east-1)', ["errorCode", "eventName", "awsRegion"]),
        ("srcaddr:fe80::1", ["srcaddr"]),
        ("free text without fields", []),
    ],
)
def test_query_fields(query: str, fields: list[str]) -> None:
    assert query_fields(query) == fields
