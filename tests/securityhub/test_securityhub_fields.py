"""The ASFF time table (``ASFF_TIMES``) against the finding format itself, and the template it types.

The format is walked in the Security Hub API's ``AwsSecurityFinding`` type as botocore ships it
(the machine-readable form of the ASFF reference, no network): a member is a time when its
documentation says so ("timestamp", "date and time").
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import botocore.session
import pytest

from logpipe.opensearch.mappings import flat_object_mode
from logpipe.pipelines import load, parse_config
from logpipe.pipelines.securityhub import ASFF_TIMES, VARIABLE
from tests.conftest import LAB_CONFIG
from tests.real_engine import VERSIONS, Engine, engine_for
from tests.support import index_templates


@pytest.fixture(scope="session", params=sorted(VERSIONS.values()))
def engine_any(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return engine_for(request.param, tmp_path_factory)


_TIME_DOC = re.compile(r"timestamp|date and time", re.IGNORECASE)
DETAILS = "Resources.Details"


def asff_members() -> Iterator[tuple[str, Any]]:
    """(dotted path as the template names it, botocore member shape) for every leaf of a finding."""
    model = botocore.session.get_session().get_service_model("securityhub")

    def walk(shape: Any, path: str, seen: frozenset[str]) -> Iterator[tuple[str, Any]]:
        if shape.type_name == "list":
            yield from walk(shape.member, path, seen)  # arrays of objects flatten in the template
        elif shape.type_name == "structure":
            for name, member in shape.members.items():
                child = f"{path}.{name}" if path else name
                if member.type_name in ("structure", "list", "map"):
                    if member.name not in seen:  # recursive types (IAM role in role ...) end here
                        yield from walk(member, child, seen | {member.name})
                else:
                    yield child, member

    yield from walk(model.shape_for("AwsSecurityFinding"), "", frozenset())


def asff_times() -> dict[str, str]:
    """Time members outside ``Resources.Details`` -> their type in the API (string or long)."""
    return {
        path: member.type_name
        for path, member in asff_members()
        if _TIME_DOC.search(member.documentation or "") and not path.startswith(DETAILS)
    }


def test_the_table_holds_every_iso_time_of_the_finding_format() -> None:
    found = asff_times()
    assert sorted(p for p, kind in found.items() if kind == "string") == sorted(ASFF_TIMES)
    # The numeric ones are GuardDuty attack sequences' times, left out of the table on purpose (unit
    # not documented); a new numeric time elsewhere would need the same decision.
    numeric = sorted(p for p, kind in found.items() if kind != "string")
    assert numeric == [
        "Detection.Sequence.Actors.Session.CreatedTime",
        "Detection.Sequence.Signals.CreatedAt",
        "Detection.Sequence.Signals.FirstSeenAt",
        "Detection.Sequence.Signals.LastSeenAt",
        "Detection.Sequence.Signals.UpdatedAt",
    ]


def test_times_under_resource_details_stay_in_its_flat_object() -> None:
    inside = [p for p, m in asff_members() if p.startswith(DETAILS) and _TIME_DOC.search(m.documentation or "")]
    assert len(inside) > 40  # AwsEc2Instance.LaunchedAt, AwsIamAccessKey.CreatedAt, ...
    assert f"{DETAILS}.AwsEc2Instance.LaunchedAt" in inside
    assert DETAILS in VARIABLE
    assert not [p for p in ASFF_TIMES if p.startswith("Resources")]


def test_the_template_maps_every_time_of_the_table_as_a_date() -> None:
    properties = index_templates()["logpipe-securityhub"]["template"]["mappings"]["properties"]
    for path in ASFF_TIMES:
        node: Any = {"properties": properties}
        for part in path.split("."):
            node = node["properties"][part]
        assert node == {"type": "date", "format": "strict_date_optional_time||epoch_millis"}, path
    # status and verify hold every existing index to the same types.
    view: Any = SimpleNamespace(config=parse_config(LAB_CONFIG))
    expected = load("securityhub").index(view).expected_types()
    assert {path: expected[path] for path in ASFF_TIMES} == dict.fromkeys(ASFF_TIMES, "date")


# Every timestamp form Security Hub documents as valid ("Timestamps" in the ASFF reference; it
# rejects a finding with any other): as dates they must all index on a real engine.
SECURITY_HUB_TIME_FORMS = (
    "2019-01-31T23:00:00Z",
    "2019-01-31T23:00:00.123456789Z",
    "2024-01-04T15:25:10+17:59",
    "2024-01-04T15:25:10-1759",
    "2024-01-04T15:25:10.123456789+17:59",
)


def _nested(paths: dict[str, str]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for path, value in paths.items():
        *parents, leaf = path.split(".")
        node = doc
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return doc


def test_every_documented_time_form_indexes_as_a_date_on_a_real_engine(engine_any: Engine) -> None:
    engine = engine_any
    index = f"sh-times-{uuid.uuid4().hex[:8]}"
    view: Any = SimpleNamespace(config=parse_config(LAB_CONFIG))
    spec = dataclasses.replace(load("securityhub").index(view), pattern=f"{index}*")
    mode = flat_object_mode(f"OpenSearch_{engine.version.rsplit('.', 1)[0]}")
    template = f"logpipe-test-{index}"
    assert engine.request("PUT", f"/_index_template/{template}", json=spec.template(mode)).ok
    try:
        lines = []
        for form in SECURITY_HUB_TIME_FORMS:
            lines += [json.dumps({"index": {"_index": index}}), json.dumps(_nested(dict.fromkeys(ASFF_TIMES, form)))]
        bulk = engine.request(
            "POST",
            "/_bulk?refresh=true",
            data="\n".join(lines) + "\n",
            headers={"Content-Type": "application/x-ndjson"},
        ).json()
        assert [i["index"].get("error") for i in bulk["items"]] == [None] * len(SECURITY_HUB_TIME_FORMS)
        mapping = engine.request("GET", f"/{index}/_mapping").json()[index]["mappings"]["properties"]
        for path in ASFF_TIMES:
            node: Any = {"properties": mapping}
            for part in path.split("."):
                node = node["properties"][part]
            assert node["type"] == "date", path
        # 2024-01-04T15:25:10-1759 is 2024-01-05T09:24:10Z: only a date knows.
        window = {"gte": "2024-01-05T09:24:00Z", "lt": "2024-01-05T09:25:00Z"}
        hits = engine.request("POST", f"/{index}/_search", json={"query": {"range": {"Note.UpdatedAt": window}}})
        assert hits.json()["hits"]["total"]["value"] == 1
    finally:
        engine.request("DELETE", f"/{index}")
        engine.request("DELETE", f"/_index_template/{template}")
