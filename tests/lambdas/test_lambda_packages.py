"""The handlers as they ship: each built zip, unpacked, imported by a bare interpreter.

``python -I -S`` has no site-packages (so no logpipe, botocore or boto3) and no current
directory on ``sys.path``: only the standard library and the zip's own files, which is what the
transforms may rely on. The CloudTrail indexer imports botocore/boto3 only to sign or to write
to S3, so with ``OPENSEARCH_AUTH=none`` it runs there too.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from logpipe.lambdas import package

from .support import Search, cloudtrail_records, cwl_event, cwl_payload, decoded, firehose_event

RUNNER = """
import json, sys
sys.path.insert(0, sys.argv[1])
module = __import__(sys.argv[2])
assert "logpipe" not in sys.modules and "botocore" not in sys.modules
print(json.dumps(module.handler(json.load(sys.stdin), None)))
"""


def run_packaged(tmp_path: Path, module: str, event: dict[str, Any], env: dict[str, str] | None = None) -> Any:
    built = package.build(module)
    with zipfile.ZipFile(io.BytesIO(built.zip_bytes)) as archive:
        names = sorted(archive.namelist())
        archive.extractall(tmp_path)
    assert built.handler == f"{module}.handler"
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", RUNNER, str(tmp_path), module],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", ""), **(env or {})},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return names, json.loads(proc.stdout)


@pytest.mark.parametrize(
    ("module", "helpers"),
    [
        ("waf_transform", ["_firehose.py"]),
        ("flowlog_transform", ["_firehose.py"]),
        ("securityhub_transform", ["_firehose.py", "_flat_object.py"]),
        ("cloudtrail_indexer", ["_flat_object.py"]),
    ],
)
def test_zip_holds_handler_and_helpers(module: str, helpers: list[str]) -> None:
    built = package.build(module)
    with zipfile.ZipFile(io.BytesIO(built.zip_bytes)) as archive:
        assert sorted(archive.namelist()) == sorted([f"{module}.py", *helpers])
        for info in archive.infolist():  # deterministic: fixed times and modes
            assert (info.date_time, info.external_attr) == ((1980, 1, 1, 0, 0, 0), 0o644 << 16)
    package.build.cache_clear()
    assert package.build(module).code_sha256 == built.code_sha256


def test_waf_zip_runs_stdlib_only(tmp_path: Path, samples: Path) -> None:
    lines = [line.encode() for line in (samples / "waf.jsonl").read_text().splitlines()]
    _, response = run_packaged(tmp_path, "waf_transform", firehose_event(lines))
    assert [r["result"] for r in response["records"]] == ["Ok"] * 8
    assert json.loads(decoded(response["records"][0]))["timestamp"] == "2019-12-13T23:40:12.771Z"


def test_flowlog_zip_runs_stdlib_only(tmp_path: Path, samples: Path) -> None:
    lines = [line.encode() for line in (samples / "vpc_flow_custom.txt").read_text().splitlines()]
    fmt = "${" + "} ${".join(lines[0].decode().split()) + "}"
    _, response = run_packaged(tmp_path, "flowlog_transform", firehose_event(lines), {"LOG_FORMAT": fmt})
    assert [r["result"] for r in response["records"]] == ["Dropped", "Ok", "Ok"]
    assert json.loads(decoded(response["records"][2]))["traffic-path"] == 8


def test_securityhub_zip_runs_stdlib_only(tmp_path: Path, samples: Path) -> None:
    event = (samples / "securityhub_imported_event.json").read_bytes()
    _, response = run_packaged(tmp_path, "securityhub_transform", firehose_event([event]))
    assert json.loads(decoded(response["records"][0]))["@event"]["region"] == "us-west-2"


def test_cloudtrail_zip_runs_without_site_packages(tmp_path: Path, samples: Path, opensearch: Search) -> None:
    record = cloudtrail_records(samples)[0]
    names, result = run_packaged(
        tmp_path,
        "cloudtrail_indexer",
        cwl_event(cwl_payload([json.dumps(record)])),
        {"OPENSEARCH_ENDPOINT": opensearch.url, "OPENSEARCH_AUTH": "none"},
    )
    assert names == ["_flat_object.py", "cloudtrail_indexer.py"]
    assert result["indexed"] == 1
    assert opensearch.indices("cwl-*") == {"cwl-2022.11.10": 1}


def test_securityhub_zip_reads_flat_object_mode(tmp_path: Path, samples: Path) -> None:
    event = (samples / "securityhub_imported_event.json").read_bytes()
    env = {"FLAT_OBJECT_MODE": "json-string"}
    _, response = run_packaged(tmp_path, "securityhub_transform", firehose_event([event]), env)
    doc = json.loads(decoded(response["records"][0]))
    assert json.loads(doc["ProductFields"]) == json.loads(event)["detail"]["findings"][0]["ProductFields"]
    assert "aws/securityhub/ProductName=Security Hub" in doc["ProductFields_leaves"]


def test_cloudtrail_zip_reads_flat_object_mode(tmp_path: Path, samples: Path, opensearch: Search) -> None:
    record = cloudtrail_records(samples)[0]  # requestParameters: null
    env = {"OPENSEARCH_ENDPOINT": opensearch.url, "OPENSEARCH_AUTH": "none", "FLAT_OBJECT_MODE": "no-nulls"}
    _, result = run_packaged(tmp_path, "cloudtrail_indexer", cwl_event(cwl_payload([json.dumps(record)])), env)
    assert result["created"] == 1
    (hit,) = opensearch.search("cwl-*", {"match_all": {}})
    assert "requestParameters" not in hit["_source"]
