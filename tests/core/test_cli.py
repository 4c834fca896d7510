"""The command line: help, targets, exit codes, confirmation, JSON on stdout only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import run_logpipe


def test_help_lists_every_command() -> None:
    result = run_logpipe("--help")
    assert result.returncode == 0
    for command in ("up", "plan", "status", "teardown", "verify", "opensearch", "securityhub", "sandbox"):
        assert f"  {command} " in result.stdout, command
    assert "--sandbox" in result.stdout and "--endpoint-url" in result.stdout


def test_unknown_target_exits_2(write_config: Any) -> None:
    path = write_config()
    result = run_logpipe("--config", str(path), "-o", "json", "plan", "cloudtrial")
    assert result.returncode == 2
    assert "unknown target 'cloudtrial'" in result.stderr
    assert json.loads(result.stdout)["exit_code"] == 2


def test_disabled_pipeline_named_explicitly_exits_2(write_config: Any) -> None:
    path = write_config({"pipelines": {"dns": {"enabled": False}}})
    result = run_logpipe("--config", str(path), "up", "dns")
    assert result.returncode == 2
    assert "pipelines.dns.enabled: false" in result.stderr


def test_teardown_without_terminal_needs_yes(sandbox: dict, tmp_path: Path) -> None:
    up = run_logpipe("--sandbox", "up", "cloudtrail", env=sandbox["env"])
    assert up.returncode == 0, up.stderr
    result = run_logpipe("--sandbox", "teardown", "cloudtrail", env=sandbox["env"], input_text="")
    assert result.returncode == 2
    assert "--yes" in result.stderr
    status = run_logpipe("--sandbox", "-o", "json", "status", "cloudtrail", env=sandbox["env"])
    resources = json.loads(status.stdout)["resources"]
    assert all(r["state"] != "missing" for r in resources), "nothing may be deleted without --yes"
    done = run_logpipe("--sandbox", "teardown", "cloudtrail", "--yes", env=sandbox["env"])
    assert done.returncode == 0, done.stderr


def test_no_credentials_is_a_clear_preflight_error(write_config: Any, tmp_path: Path) -> None:
    path = write_config()
    env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    result = run_logpipe("--config", str(path), "--endpoint-url", "http://127.0.0.1:9", "plan", env=env)
    assert result.returncode == 2
    assert "no AWS credentials found" in result.stderr
