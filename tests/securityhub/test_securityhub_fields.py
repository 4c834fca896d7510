"""The ASFF time table (``ASFF_TIMES``) against the finding format itself, and the template it types.

The format is walked in the Security Hub API's ``AwsSecurityFinding`` type as botocore ships it
(the machine-readable form of the ASFF reference, no network): a member is a time when its
documentation says so ("timestamp", "date and time").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import botocore.session

from logpipe.pipelines import load, parse_config
from logpipe.pipelines.securityhub import ASFF_TIMES, VARIABLE
from tests.conftest import LAB_CONFIG
from tests.support import index_templates

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
