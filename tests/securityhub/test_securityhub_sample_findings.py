"""`logpipe securityhub sample-findings`: GuardDuty is asked for sample findings of the requested
types (all by default), the request is printed, and a region without a detector is a usage error."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient
from click.testing import CliRunner

from logpipe.cli import main
from tests.conftest import REGION
from tests.securityhub.support import client

PORT_PROBE = "Recon:EC2/PortProbeUnprotectedPort"
SSH_BRUTE_FORCE = "UnauthorizedAccess:EC2/SSHBruteForce"


def invoke(config: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)


def finding_types(detector_id: str) -> list[str]:
    guardduty = client("guardduty")
    ids = [
        i
        for page in guardduty.get_paginator("list_findings").paginate(DetectorId=detector_id)
        for i in page["FindingIds"]
    ]
    found = []
    for start in range(0, len(ids), 50):
        found += guardduty.get_findings(DetectorId=detector_id, FindingIds=ids[start : start + 50])["Findings"]
    return sorted(f["Type"] for f in found)


def test_without_a_detector_it_says_to_run_up_and_exits_2(moto: None, write_config: Callable[..., Path]) -> None:
    result = invoke(write_config(), "-o", "json", "securityhub", "sample-findings")
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert "logpipe up securityhub" in document["error"]


def test_named_types_are_requested_and_printed_as_json(moto: None, write_config: Callable[..., Path]) -> None:
    detector_id = client("guardduty").create_detector(Enable=True)["DetectorId"]
    result = invoke(
        write_config(), "-o", "json", "securityhub", "sample-findings", "--type", PORT_PROBE, "--type", SSH_BRUTE_FORCE
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["detector_id"] == detector_id
    assert document["region"] == REGION
    assert document["finding_types"] == [PORT_PROBE, SSH_BRUTE_FORCE]
    assert document["api_calls"]["by_service"]["guardduty"]["write"] == 1
    assert finding_types(detector_id) == sorted([PORT_PROBE, SSH_BRUTE_FORCE])


def test_without_types_every_type_is_requested(
    moto: None, write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    detector_id = client("guardduty").create_detector(Enable=True)["DetectorId"]
    sent: list[dict[str, Any]] = []
    make_api_call = BaseClient._make_api_call

    def record(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if operation == "CreateSampleFindings":
            sent.append(dict(params))
        return make_api_call(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", record)
    result = invoke(write_config(), "securityhub", "sample-findings")
    # AWS documents "all types" for a request without findingTypes (NULL), not for an empty list.
    assert sent == [{"DetectorId": detector_id}]
    assert result.exit_code == 0, result.output
    assert "all" in result.stdout and detector_id in result.stdout
    assert PORT_PROBE in finding_types(detector_id)
    assert len(set(finding_types(detector_id))) > 50


def test_an_unknown_type_is_a_usage_error(moto: None, write_config: Callable[..., Path]) -> None:
    detector_id = client("guardduty").create_detector(Enable=True)["DetectorId"]
    result = invoke(write_config(), "securityhub", "sample-findings", "--type", "Recon:EC2/NoSuchThing")
    assert result.exit_code == 2
    assert "Recon:EC2/NoSuchThing" in result.stderr
    assert finding_types(detector_id) == []
