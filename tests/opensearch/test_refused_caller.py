"""A caller fine-grained access control refuses gets a message naming what it lacks, from the real
security plugin (the emulator has no internal users but the master, so these run on the real engine).

Refused at a read, `up` stops before its first write (exit 2); refused at a write, the run fails
there (exit 1) naming the permission, and a rerun by someone allowed converges.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner

from logpipe.cli import main
from logpipe.sandbox.opensearch_standin import OpenSearchStandin
from tests.opensearch.conftest import API, MASTER_PASSWORD, admin

ENGINES = ("real-2.19",)
PASSWORD = "Reader-Passw0rd!9"
BASIC = {"opensearch": {"auth": "basic", "access_policy": "ip", "allowed_cidrs": ["127.0.0.1/32"]}}


def user(standin: OpenSearchStandin, name: str, *, cluster: list[str], security: bool = False) -> None:
    """An internal user with a role of its own: ``cluster`` permissions, and security admin or not."""
    role = {"cluster_permissions": cluster, "index_permissions": []}
    assert admin(standin, "PUT", f"{API}/roles/{name}-role", role).status_code in (200, 201)
    assert admin(standin, "PUT", f"{API}/internalusers/{name}", {"password": PASSWORD}).status_code in (200, 201)
    # The demo configuration's REST API admin role (on Amazon OpenSearch Service: security_manager).
    roles = [f"{name}-role", *(["security_rest_api_access"] if security else [])]
    for mapped in roles:
        found = admin(standin, "GET", f"{API}/rolesmapping/{mapped}")
        users = found.json()[mapped].get("users", []) if found.ok else []
        body = {"users": [*users, name]}
        assert admin(standin, "PUT", f"{API}/rolesmapping/{mapped}", body).status_code in (200, 201)


def up_as(config: str, name: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("LOGPIPE_OPENSEARCH_USER", name)
    monkeypatch.setenv("LOGPIPE_OPENSEARCH_PASSWORD", PASSWORD)
    return CliRunner().invoke(main, ["--config", config, "up", "waf"])


def test_refused_at_a_read_stops_before_any_write_and_names_the_security_role(
    os_run: Callable[..., Any], standin: OpenSearchStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    user(standin, "reader", cluster=["cluster_monitor"])
    config = str(os_run(BASIC).options.config)
    standin.reset()

    result = up_as(config, "reader", monkeypatch)

    assert result.exit_code == 2, result.output
    assert "403" in result.output and "reader" in result.output
    assert "security_manager" in result.output, "says which role would let it manage security"
    assert not [r for r in standin.mutating_requests if r.principal == "reader"]


def test_refused_at_a_write_names_the_permission_and_a_rerun_converges(
    os_run: Callable[..., Any], standin: OpenSearchStandin, monkeypatch: pytest.MonkeyPatch
) -> None:
    # May read what logpipe reads and manage security, but not write index templates.
    user(standin, "operator", cluster=["cluster_monitor", "indices:admin/index_template/get"], security=True)
    config = str(os_run(BASIC).options.config)

    result = up_as(config, "operator", monkeypatch)

    assert result.exit_code == 1, result.output
    assert "indices:admin/index_template/put" in result.output, "names the permission it lacks"
    monkeypatch.setenv("LOGPIPE_OPENSEARCH_USER", "admin")
    monkeypatch.setenv("LOGPIPE_OPENSEARCH_PASSWORD", MASTER_PASSWORD)
    again = CliRunner().invoke(main, ["--config", config, "up", "waf"])
    assert again.exit_code == 0, again.output
    third = CliRunner().invoke(main, ["--config", config, "-v", "up", "waf"])
    assert "0 write" in third.output, third.output
