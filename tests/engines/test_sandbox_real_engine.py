"""`logpipe sandbox start --engine opensearch`: the sandbox on a real OpenSearch node, once fetched;
a clear word on how to fetch it when the cache has none. The default stays the embedded emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from logpipe.sandbox import real_engine
from tests.conftest import json_out, run_logpipe

pytestmark = pytest.mark.e2e


def test_without_a_cached_engine_the_sandbox_says_how_to_fetch_one(tmp_path: Path) -> None:
    env = {"LOGPIPE_SANDBOX_DIR": str(tmp_path / "sandbox"), "LOGPIPE_ENGINE_CACHE": str(tmp_path / "empty")}

    refused = run_logpipe("sandbox", "start", "--engine", "opensearch", env=env)

    assert refused.returncode != 0
    assert "python -m logpipe.sandbox.real_engine fetch 2.19.1" in refused.stderr
    assert "--engine emulator" in refused.stderr
    assert not (tmp_path / "sandbox" / "state.json").exists()


def test_the_default_sandbox_needs_no_java(tmp_path: Path) -> None:
    env = {"LOGPIPE_SANDBOX_DIR": str(tmp_path), "LOGPIPE_ENGINE_CACHE": str(tmp_path / "empty"), "PATH": "/usr/bin"}
    try:
        started = run_logpipe("-o", "json", "sandbox", "start", env=env)
        assert started.returncode == 0, started.stderr
        assert json_out(started)["engine"] == "emulator"
    finally:
        run_logpipe("sandbox", "stop", env=env)


def test_a_pipeline_on_the_real_engine_verifies(tmp_path: Path) -> None:
    """verify and status against the real engine's searches, its security plugin doing the role mappings."""
    reason = real_engine.unavailable_reason(("2.19.1",), fetch_missing=False)
    if reason:
        pytest.skip(f"real OpenSearch 2.19.1: {reason}")
    env = {"LOGPIPE_SANDBOX_DIR": str(tmp_path)}
    try:
        started = run_logpipe("-o", "json", "sandbox", "start", "--engine", "opensearch", env=env)
        assert started.returncode == 0, started.stderr
        assert json_out(started)["engine_version"] == "OpenSearch_2.19"
        assert run_logpipe("--sandbox", "up", "waf", env=env).returncode == 0

        checked = run_logpipe("--sandbox", "-o", "json", "verify", "waf", "--timeout", "60", env=env)

        assert checked.returncode == 0, checked.stdout
        status = json_out(run_logpipe("--sandbox", "-o", "json", "status", "waf", env=env))
        pieces = {(r["kind"], r["state"]) for r in status["resources"] if r["kind"].startswith("opensearch-")}
        assert {state for _, state in pieces} <= {"ok", "external"}, pieces
        assert [r["value"] for r in status["health"] if r["check"] == "freshness"] == ["1 docs / 24h"]
    finally:
        run_logpipe("sandbox", "stop", env=env)
