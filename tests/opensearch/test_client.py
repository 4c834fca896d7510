"""The data-plane client: SigV4 by default, basic auth from env or Secrets Manager, clear refusals."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from logpipe.cli import main
from logpipe.sandbox.opensearch_standin import OpenSearchStandin
from tests.conftest import REGION
from tests.opensearch.conftest import CALLER_ARN, MASTER_PASSWORD, up

BASIC = {"opensearch": {"auth": "basic", "access_policy": "ip", "allowed_cidrs": ["127.0.0.1/32"]}}


def up_output(config: str) -> Any:
    """`logpipe up opensearch`: refused problems come back as one preflight error listing them all."""
    return CliRunner().invoke(main, ["--config", config, "up", "opensearch"])


def test_default_is_sigv4_as_the_callers_iam_identity(os_run: Callable[..., Any], standin: OpenSearchStandin) -> None:
    up(os_run())

    seen = {(r.auth, r.principal) for r in standin.requests}
    assert seen == {("sigv4", CALLER_ARN)}


def test_basic_auth_from_the_environment(
    os_run: Callable[..., Any], standin: OpenSearchStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOGPIPE_OPENSEARCH_USER", "admin")
    monkeypatch.setenv("LOGPIPE_OPENSEARCH_PASSWORD", MASTER_PASSWORD)

    up(os_run(BASIC))

    assert {(r.auth, r.principal) for r in standin.requests} == {("basic", "admin")}


def test_basic_auth_from_a_secrets_manager_secret(os_run: Callable[..., Any], standin: OpenSearchStandin) -> None:
    secret = json.dumps({"username": "admin", "password": MASTER_PASSWORD})
    boto3.client("secretsmanager", region_name=REGION).create_secret(Name="opensearch-master", SecretString=secret)

    up(os_run({"opensearch": {**BASIC["opensearch"], "master_user_secret": "opensearch-master"}}))

    assert {r.auth for r in standin.requests} == {"basic"}


def test_a_refused_password_is_explained_and_never_shown(
    os_run: Callable[..., Any], standin: OpenSearchStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "Wrong-Secret-Value-42"
    monkeypatch.setenv("LOGPIPE_OPENSEARCH_USER", "admin")
    monkeypatch.setenv("LOGPIPE_OPENSEARCH_PASSWORD", wrong)

    result = up_output(str(os_run(BASIC).options.config))

    assert result.exit_code == 2
    assert "401" in result.output and "LOGPIPE_OPENSEARCH_PASSWORD" in result.output
    assert wrong not in result.output


def test_a_malformed_secret_is_not_echoed(os_run: Callable[..., Any], standin: OpenSearchStandin) -> None:
    leaked = "plain-text-password-123"
    boto3.client("secretsmanager", region_name=REGION).create_secret(Name="bad-secret", SecretString=leaked)
    config = os_run({"opensearch": {**BASIC["opensearch"], "master_user_secret": "bad-secret"}}).options.config

    result = up_output(str(config))

    assert result.exit_code == 2
    assert "username" in result.output and leaked not in result.output


def test_basic_auth_with_the_account_policy_is_refused_before_any_change(
    lab: dict[str, Any], write_config: Callable[..., Any]
) -> None:
    result = CliRunner().invoke(
        main, ["--config", str(write_config({"opensearch": {"auth": "basic"}})), "up", "opensearch"]
    )

    assert result.exit_code == 2
    assert "unsigned" in result.output


def test_caller_not_allowed_to_manage_security_is_told_what_to_map(
    osmem_base: Any, lab: dict[str, Any], make_run: Callable[..., Any]
) -> None:
    clone = osmem_base.clone()
    # The IAM caller reaches the domain but is mapped to no security role.
    server = OpenSearchStandin(clone.url, master_password=MASTER_PASSWORD, default_iam_arn=CALLER_ARN)
    server.start()
    try:
        config = make_run({"opensearch": {"endpoint_url": server.url}}).options.config
        result = up_output(str(config))
    finally:
        server.stop()
        clone.close()

    assert result.exit_code == 2
    assert "403" in result.output and "security_manager" in result.output
    assert "auth: basic" in result.output


def test_unreachable_endpoint_is_a_clear_preflight_problem(lab: dict[str, Any], make_run: Callable[..., Any]) -> None:
    config = make_run({"opensearch": {"endpoint_url": "http://127.0.0.1:9"}}).options.config

    result = up_output(str(config))

    assert result.exit_code == 2
    assert "cannot reach OpenSearch at http://127.0.0.1:9" in result.output
