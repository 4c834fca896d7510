"""Config loading: every mistake is named by its key path, exits 2, and no AWS call is made."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from logpipe.errors import ConfigError
from logpipe.pipelines import load_config, parse_config
from tests.conftest import REPO, run_logpipe


def test_example_config_is_valid_and_holds_the_lab_names() -> None:
    config = load_config(REPO / "config.example.yaml")
    assert config.prefix == "demogo"
    assert config.region == "ap-northeast-2"
    assert config.opensearch.domain == "demogo-opensearch"
    assert config.backup_bucket_name == "demogo-kdf-backup"
    assert config.pipelines.dns.vpc == "demogo-vpc"
    assert config.pipelines.securityhub.products == ["guardduty", "config"]


def test_example_config_documents_every_key() -> None:
    """Each key the schema knows appears in the example with a comment."""
    from logpipe.config import config_model
    from logpipe.pipelines import config_sections

    Config = config_model(config_sections())
    text = (REPO / "config.example.yaml").read_text()
    data = yaml.safe_load(text)

    def keys(model: type, prefix: str = "") -> list[str]:
        out = []
        for name, field in model.model_fields.items():
            out.append(prefix + name)
            annotation = field.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                out.extend(keys(annotation, f"{prefix}{name}."))
        return out

    def has(path: str) -> bool:
        node = data
        for part in path.split("."):
            if part in ("cloudtrail", "dns", "waf", "flowlog", "securityhub") and isinstance(node, dict):
                node = node.get(part)
                continue
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    missing = [k for k in keys(Config) if not has(k)]
    assert missing == []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith(("#", "-")) and stripped.endswith(":") is False:
            assert "#" in line, f"no comment on: {line}"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"pipelines": {"waf": {"web_acl": 5}}}, "pipelines.waf.web_acl: Input should be a valid string"),
        ({"pipelines": {"waf": {"web_acls": "x"}}}, "pipelines.waf.web_acls: unknown key"),
        (
            {"opensearch": {"domain": "demogo-opensearch", "acess_policy": "open"}},
            "opensearch.acess_policy: unknown key",
        ),
        ({"pipelines": {"cloudtrail": {"retention_days": 8}}}, "pipelines.cloudtrail.retention_days"),
        ({"pipelines": {"waf": {"stream_name": "demogo-waf"}}}, "starting with 'aws-waf-logs-'"),
        (
            {"pipelines": {"dns": {"firehose": {"buffering": {"size_mb": 0}}}}},
            "pipelines.dns.firehose.buffering.size_mb",
        ),
        ({"prefix": "Demo_Go"}, "prefix: String should match pattern"),
        ({"opensearch": {"domain": "demogo-opensearch", "access_policy": "ip"}}, "needs at least one entry"),
    ],
)
def test_bad_values_name_the_key_path(data: dict, expected: str) -> None:
    base = {"prefix": "demogo", "opensearch": {"domain": "demogo-opensearch"}}
    merged = {**base, **data}
    with pytest.raises(ConfigError) as raised:
        parse_config(merged, "logpipe.yaml")
    assert expected in str(raised.value)
    assert str(raised.value).startswith("logpipe.yaml: ")


def test_missing_required_values_are_named() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config({"opensearch": {}}, "cfg.yaml")
    message = str(raised.value)
    assert "cfg.yaml: prefix: required value is missing" in message
    assert "cfg.yaml: opensearch.domain: required value is missing" in message


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("prefix: demogo\nopensearch:\n  domain: [unclosed\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert "not valid YAML at line" in str(raised.value)


def test_no_config_file_is_a_usage_error_but_sandbox_uses_the_lab(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    from logpipe.config import resolve_config_path

    assert resolve_config_path(None) is None
    with pytest.raises(ConfigError, match="no config file"):
        load_config(None)
    assert load_config(None, sandbox=True).prefix == "demogo"


def test_config_precedence_flag_then_local_file_then_env(tmp_path: Path, monkeypatch) -> None:
    from logpipe.config import resolve_config_path

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOGPIPE_CONFIG", str(tmp_path / "env.yaml"))
    assert resolve_config_path(None) == tmp_path / "env.yaml"
    (tmp_path / "logpipe.yaml").write_text("prefix: x\n")
    assert resolve_config_path(None).name == "logpipe.yaml"
    assert resolve_config_path("other.yaml") == Path("other.yaml")


@pytest.mark.parametrize(
    "text",
    [
        "prefix: demogo\nopensearch:\n  domain: demogo-opensearch\npipelines:\n  waf:\n    web_acl: 12\n",
        "prefix: demogo\nopensearch:\n  domain: demogo-opensearch\nunknown_section: {}\n",
        "opensearch:\n  domain: demogo-opensearch\n",
    ],
)
def test_cli_exits_2_with_the_key_path_and_makes_no_aws_call(tmp_path: Path, text: str) -> None:
    """The AWS endpoint is a local server that records every request: it must see none."""
    import http.server
    import threading

    seen: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.path)
            self.send_response(500)
            self.end_headers()

        do_GET = do_POST

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    path = tmp_path / "logpipe.yaml"
    path.write_text(text)
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        result = run_logpipe("--config", str(path), "--endpoint-url", endpoint, "-o", "json", "up", "all")
    finally:
        server.shutdown()
    assert result.returncode == 2, result.stderr
    assert str(path) in result.stderr
    assert any(k in result.stderr for k in ("pipelines.waf.web_acl", "unknown_section", "prefix"))
    assert '"exit_code": 2' in result.stdout
    assert seen == []
