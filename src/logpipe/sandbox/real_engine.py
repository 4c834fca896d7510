"""A real OpenSearch node with its security plugin, fetched from Maven Central and run on 127.0.0.1.

The stand-ins (osmem-server, ``security_api``) keep the APIs' semantics as far as we know them;
this module lets tests check those semantics against the real engine. It needs only ``java``
(11 to 23; OpenSearch 2.x still installs a security manager, which Java 24 removed) and, for
the first fetch of a version, ``mvn``.

- ``fetch(version)`` resolves the minimal distribution
  ``org.opensearch.distribution.integ-test-zip:opensearch:<v>:zip`` and the security plugin
  ``org.opensearch.plugin:opensearch-security:<v>.0:zip`` with Maven into
  ``$LOGPIPE_ENGINE_CACHE/<v>`` (default ``~/.cache/logpipe/engines/<v>``), unpacks the
  distribution, installs the plugin with ``bin/opensearch-plugin`` and applies the plugin's demo
  TLS configuration once. The cached install is never written to afterwards. Where the demo
  root CA has expired (2.11.1's ended on 2023-09-28), the demo certificates are replaced by new
  ones with the same names, made with ``openssl``: Java would still trust the old chain, but
  OpenSSL-based clients such as ``requests`` do not.
- ``start(version, workdir=..., admin_password=...)`` copies the small ``config/`` folder into
  ``workdir`` (``OPENSEARCH_PATH_CONF``), puts data and logs there too, sets the admin password
  (a bcrypt hash from the plugin's own ``tools/hash.sh``), and starts one single-node cluster on
  free loopback ports, returning once the cluster is green.

OpenSearch refuses to run as root. As root, the node runs in a new user namespace
(``unshare --user``): inside it the process is "nobody", so the check passes, while the kernel
still lets it use root's files as their owner.

Command line (``python -m logpipe.sandbox.real_engine``):
  fetch [VERSION...]                       fetch into the cache (default: 2.19.1 2.11.1)
  start VERSION --workdir DIR [--detach]   print the node as JSON; without --detach, keep it
                                           running until SIGTERM/SIGINT, then stop it
  stop PID...                              stop nodes started by ``start --detach``
  check [VERSION...]                       say why a real engine cannot be used here, or "ok"
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import requests

from logpipe.errors import LogpipeError

DEFAULT_VERSIONS = ("2.19.1", "2.11.1")
ADMIN_USER = "admin"
DISTRIBUTION = "org.opensearch.distribution.integ-test-zip:opensearch:{version}:zip"
SECURITY_PLUGIN = "org.opensearch.plugin:opensearch-security:{version}.0:zip"
MARKER = "engine.json"
# Bumped whenever _prepare changes, so caches made by an older logpipe are prepared again.
LAYOUT = 2
# OpenSearch 2.x asks for a security manager; Java 24 removed it (JEP 486).
SUPPORTED_JAVA = range(11, 24)
DISABLED_VALUES = ("0", "false", "no", "off")

Progress = Callable[[str], None]


class EngineError(LogpipeError):
    """The real engine could not be fetched, started or stopped; the message says why."""


# --------------------------------------------------------------------------- cache and fetch


def cache_root() -> Path:
    configured = os.environ.get("LOGPIPE_ENGINE_CACHE")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "logpipe" / "engines"


def _check_version(version: str) -> None:
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise EngineError(f"not an OpenSearch version: {version!r} (expected like 2.19.1)")


def cached(version: str) -> Path | None:
    """The prepared install of ``version`` (its OPENSEARCH_HOME), or None when not fetched yet."""
    _check_version(version)
    folder = cache_root() / version
    home = folder / "home"
    try:
        layout = json.loads((folder / MARKER).read_text()).get("layout")
    except (OSError, ValueError):
        return None
    if layout == LAYOUT and (home / "bin" / "opensearch").is_file():
        return home
    return None


def version_for(requested: str | None) -> str:
    """The cached full version a sandbox asks for: ``None`` (the newest default), ``2.11``,
    ``OpenSearch_2.11`` or ``2.11.1``; an EngineError saying how to fetch it when it is not cached."""
    wanted = (requested or DEFAULT_VERSIONS[0]).removeprefix("OpenSearch_")
    candidates = [v for v in DEFAULT_VERSIONS if v == wanted or v.startswith(f"{wanted}.")]
    if re.fullmatch(r"\d+\.\d+\.\d+", wanted):
        candidates = [wanted]
    if not candidates:
        raise EngineError(
            f"no real engine for {requested!r}: logpipe fetches OpenSearch {', '.join(DEFAULT_VERSIONS)} "
            "(Elasticsearch and OpenSearch 1.x run as emulated versions only: --engine emulator)"
        )
    version = candidates[0]
    if cached(version) is None:
        raise EngineError(
            f"OpenSearch {version} is not in the engine cache ({cache_root()}): fetch it once with "
            f"`python -m logpipe.sandbox.real_engine fetch {version}` (needs Java 17 and Maven reaching "
            "Maven Central), or use the embedded emulator (--engine emulator)"
        )
    return version


def fetch(version: str, *, progress: Progress | None = None) -> Path:
    """Fetch and prepare ``version`` in the cache unless it is there; return its OPENSEARCH_HOME.

    Safe to call from several processes at once: one prepares, the others wait and reuse it.
    """
    say = progress or (lambda message: None)
    home = cached(version)
    if home is not None:
        return home
    folder = cache_root() / version
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder.parent / f"{version}.lock"):
        home = cached(version)
        if home is not None:
            return home
        java = java_home()
        began = time.monotonic()
        downloads = folder / "downloads"
        distribution, plugin = _download(version, downloads, say)
        downloaded = time.monotonic()
        home, renewed = _prepare(version, folder, distribution, plugin, java, say)
        info = {
            "layout": LAYOUT,
            "version": version,
            "distribution": DISTRIBUTION.format(version=version),
            "security_plugin": SECURITY_PLUGIN.format(version=version),
            "distribution_bytes": distribution.stat().st_size,
            "security_plugin_bytes": plugin.stat().st_size,
            "download_seconds": round(downloaded - began, 1),
            "prepare_seconds": round(time.monotonic() - downloaded, 1),
            "demo_certificates": renewed or "as shipped by the security plugin",
            "fetched_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        (folder / MARKER).write_text(json.dumps(info, indent=2) + "\n")
        say(f"OpenSearch {version} ready in {home} ({time.monotonic() - began:.1f}s)")
        return home


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _download(version: str, downloads: Path, say: Progress) -> tuple[Path, Path]:
    distribution = downloads / f"opensearch-{version}.zip"
    plugin = downloads / f"opensearch-security-{version}.0.zip"
    if distribution.is_file() and plugin.is_file():
        return distribution, plugin
    mvn = shutil.which("mvn")
    if mvn is None:
        raise EngineError(f"OpenSearch {version} is not in {downloads.parent} and there is no mvn on PATH to fetch it")
    say(f"fetching OpenSearch {version} and its security plugin from Maven")
    dependencies = "".join(
        f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version><type>{t}</type>"
        "</dependency>"
        for g, a, v, t in (
            coordinate.split(":")
            for coordinate in (DISTRIBUTION.format(version=version), SECURITY_PLUGIN.format(version=version))
        )
    )
    pom = (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>logpipe.engine</groupId><artifactId>fetch</artifactId><version>1</version>"
        f"<packaging>pom</packaging><dependencies>{dependencies}</dependencies></project>\n"
    )
    # A throwaway local repository: the zips land once, in the cache, and nowhere else.
    with tempfile.TemporaryDirectory(prefix="logpipe-engine-fetch-") as scratch:
        (Path(scratch) / "pom.xml").write_text(pom)
        result = subprocess.run(
            [
                mvn,
                "-B",
                "-q",
                "-Dstyle.color=never",
                "-f",
                str(Path(scratch) / "pom.xml"),
                f"-Dmaven.repo.local={scratch}/m2",
                "dependency:copy-dependencies",
                "-DincludeTypes=zip",
                "-Dmdep.stripVersion=false",
                f"-DoutputDirectory={downloads}",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "JAVA_HOME": str(java_home())},
            check=False,
            timeout=900,
        )
    if result.returncode != 0 or not (distribution.is_file() and plugin.is_file()):
        raise EngineError(f"mvn could not fetch OpenSearch {version}: {_maven_error(result.stdout + result.stderr)}")
    return distribution, plugin


def _maven_error(output: str) -> str:
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in output.splitlines()]
    errors = [line.removeprefix("[ERROR]").strip() for line in lines if line.startswith("[ERROR]")]
    errors = [line for line in errors if line]
    return errors[0] if errors else (lines[-1] if lines else "no output")


def _prepare(
    version: str, folder: Path, distribution: Path, plugin: Path, java: Path, say: Progress
) -> tuple[Path, str | None]:
    say(f"unpacking OpenSearch {version}, installing the security plugin and its demo TLS configuration")
    staging = folder / "staging"
    shutil.rmtree(staging, ignore_errors=True)
    _unzip(distribution, staging)
    unpacked = staging / f"opensearch-{version}"
    if not (unpacked / "bin" / "opensearch").is_file():
        raise EngineError(f"{distribution.name} has no opensearch-{version}/bin/opensearch")
    env = _java_env(java)
    _run(
        [str(unpacked / "bin" / "opensearch-plugin"), "install", "--batch", plugin.resolve().as_uri()],
        env=env,
        what="installing the security plugin",
    )
    # 2.12+ refuses the demo configuration without a strong initial admin password; every
    # start replaces the admin hash with its own, so this one is thrown away.
    env["OPENSEARCH_INITIAL_ADMIN_PASSWORD"] = new_password()
    tools = unpacked / "plugins" / "opensearch-security" / "tools"
    with tempfile.TemporaryDirectory(prefix="logpipe-engine-demo-") as scratch:
        # 2.11's script writes securityadmin_demo.sh into the current directory.
        _run(
            ["bash", str(tools / "install_demo_configuration.sh"), "-y", "-i", "-s"],
            env=env,
            cwd=scratch,
            what="applying the security plugin's demo configuration",
        )
    if not (unpacked / "config" / "root-ca.pem").is_file():
        raise EngineError(f"the demo configuration of OpenSearch {version} wrote no config/root-ca.pem")
    renewed = _renew_expired_demo_certificates(unpacked / "config", say)
    home = folder / "home"
    shutil.rmtree(home, ignore_errors=True)
    unpacked.rename(home)
    shutil.rmtree(staging, ignore_errors=True)
    return home, renewed


# Same names, extensions and node OID (1.2.3.4.5.5, how the plugin tells nodes from clients
# without plugins.security.nodes_dn) as the plugin's demo certificates.
_OPENSSL_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,digitalSignature,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[node]
basicConstraints = critical,CA:FALSE
keyUsage = digitalSignature,nonRepudiation,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = RID:1.2.3.4.5.5,DNS:node-0.example.com,DNS:localhost,IP:::1,IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation,keyEncipherment
extendedKeyUsage = critical,clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""
_DEMO_SUBJECTS = {
    "root-ca": "/DC=com/DC=example/O=Example Com Inc./OU=Example Com Inc. Root CA/CN=Example Com Inc. Root CA",
    "esnode": "/C=de/L=test/O=node/OU=node/CN=node-0.example.com",
    "kirk": "/C=de/L=test/O=client/OU=client/CN=kirk",
}


def _renew_expired_demo_certificates(conf: Path, say: Progress) -> str | None:
    """Replace the demo certificates when their root CA has expired (2.11's ended on 2023-09-28).

    Java trusts an expired trust anchor, so the node itself would run, but OpenSSL-based clients
    (requests, curl) refuse the chain. Returns what was done, or None when the CA is still valid.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise EngineError("no openssl on PATH to check the demo root CA's expiry")
    month = str(30 * 24 * 3600)
    check = subprocess.run(
        [openssl, "x509", "-checkend", month, "-noout", "-in", str(conf / "root-ca.pem")],
        capture_output=True,
        text=True,
        check=False,
    )
    if check.returncode == 0:
        return None
    expired = subprocess.run(
        [openssl, "x509", "-enddate", "-noout", "-in", str(conf / "root-ca.pem")], capture_output=True, text=True
    ).stdout.strip()
    say(f"the demo root CA has expired ({expired}); making new demo certificates with the same names")
    with tempfile.TemporaryDirectory(prefix="logpipe-engine-certs-") as scratch:
        work = Path(scratch)
        (work / "openssl.cnf").write_text(_OPENSSL_CONFIG)

        def openssl_run(arguments: str, what: str, *extra: str) -> None:
            _run([openssl, *arguments.split(), *extra], env=dict(os.environ), cwd=work, what=what)

        openssl_run(
            "req -x509 -config openssl.cnf -extensions ca -newkey rsa:2048 -nodes -keyout ca-key.pem"
            " -out root-ca.pem -days 3650 -sha256",
            "making a demo root CA",
            "-subj",
            _DEMO_SUBJECTS["root-ca"],
        )
        for name, extensions in (("esnode", "node"), ("kirk", "client")):
            openssl_run(
                f"req -new -config openssl.cnf -newkey rsa:2048 -nodes -keyout {name}-key.pem -out {name}.csr",
                f"making the demo {name} key",
                "-subj",
                _DEMO_SUBJECTS[name],
            )
            openssl_run(
                f"x509 -req -in {name}.csr -CA root-ca.pem -CAkey ca-key.pem -set_serial {secrets.randbits(63)}"
                f" -out {name}.pem -days 3650 -sha256 -extfile openssl.cnf -extensions {extensions}",
                f"signing the demo {name} certificate",
            )
        # The CA key is dropped: nothing signs with it again.
        for name in ("root-ca.pem", "esnode.pem", "esnode-key.pem", "kirk.pem", "kirk-key.pem"):
            shutil.copyfile(work / name, conf / name)
    return f"demo root CA had expired ({expired}); replaced by new ones with the same names"


def _unzip(archive: Path, target: Path) -> None:
    # zipfile drops Unix modes; the launch scripts need their exec bits back.
    with zipfile.ZipFile(archive) as bundle:
        for entry in bundle.infolist():
            path = Path(bundle.extract(entry, target))
            mode = (entry.external_attr >> 16) & 0o777
            if mode and not entry.is_dir():
                path.chmod(mode)


def _run(command: list[str], *, env: dict[str, str], what: str, cwd: str | Path | None = None) -> str:
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, check=False, timeout=300)
    if result.returncode != 0:
        tail = " | ".join((result.stdout + result.stderr).strip().splitlines()[-5:])
        raise EngineError(f"{what} failed (exit {result.returncode}): {tail}")
    return result.stdout


# --------------------------------------------------------------------------- java


@lru_cache(maxsize=1)
def java_home() -> Path:
    """A Java home OpenSearch 2.x runs on: $LOGPIPE_ENGINE_JAVA_HOME, $OPENSEARCH_JAVA_HOME,
    $JAVA_HOME, then the ``java`` on PATH; the first with Java 11 to 23."""
    candidates: list[tuple[str, Path]] = [
        (name, Path(value))
        for name in ("LOGPIPE_ENGINE_JAVA_HOME", "OPENSEARCH_JAVA_HOME", "JAVA_HOME")
        if (value := os.environ.get(name))
    ]
    on_path = shutil.which("java")
    if on_path:
        candidates.append(("PATH", Path(on_path).resolve().parents[1]))
    seen: list[str] = []
    for source, home in candidates:
        major = _java_major(home / "bin" / "java")
        if major in SUPPORTED_JAVA:
            return home
        seen.append(f"{source}={home} (Java {major or '?'})")
    if not seen:
        raise EngineError("no java on PATH nor in JAVA_HOME (OpenSearch 2.x needs Java 11 to 23)")
    raise EngineError("no Java 11 to 23 for OpenSearch 2.x: " + ", ".join(seen))


def _java_major(java: Path) -> int | None:
    if not java.is_file():
        return None
    try:
        output = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=60, check=False).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r'version "(1\.)?(\d+)', output)
    return int(found.group(2)) if found else None


def _java_env(java: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENSEARCH_", "ES_"))}
    env["JAVA_HOME"] = str(java)
    env["OPENSEARCH_JAVA_HOME"] = str(java)
    env.pop("JAVA_TOOL_OPTIONS", None)
    return env


# --------------------------------------------------------------------------- availability


_reasons: dict[tuple[tuple[str, ...], bool], str | None] = {}


def unavailable_reason(versions: Sequence[str] = DEFAULT_VERSIONS, *, fetch_missing: bool = True) -> str | None:
    """One line saying why a real engine of each of ``versions`` cannot run here, or None.

    Fetches a missing version unless ``fetch_missing`` is false. ``LOGPIPE_REAL_ENGINE=0``
    turns real engines off. The answer is remembered for the life of the process.
    """
    key = (tuple(versions), fetch_missing)
    if key not in _reasons:
        _reasons[key] = _unavailable_reason(key[0], fetch_missing)
    return _reasons[key]


def _unavailable_reason(versions: tuple[str, ...], fetch_missing: bool) -> str | None:
    setting = os.environ.get("LOGPIPE_REAL_ENGINE", "").strip().lower()
    if setting in DISABLED_VALUES:
        return f"real OpenSearch turned off by LOGPIPE_REAL_ENGINE={setting}"
    if not sys.platform.startswith("linux"):
        return f"real OpenSearch runs here on Linux only, not {sys.platform}"
    try:
        java_home()
    except EngineError as error:
        return str(error)
    if os.geteuid() == 0 and not _can_unshare():
        return "running as root, and OpenSearch refuses root, but `unshare --user` is not possible here"
    for version in versions:
        try:
            if cached(version) is None:
                if not fetch_missing:
                    return f"OpenSearch {version} is not in {cache_root()} (see: python -m logpipe.sandbox.real_engine)"
                fetch(version)
        except EngineError as error:
            return str(error)
    return None


@lru_cache(maxsize=1)
def _can_unshare() -> bool:
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    try:
        done = subprocess.run([unshare, "--user", "true"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


# --------------------------------------------------------------------------- running a node


@dataclass
class RealEngine:
    """One running single-node cluster. Clients use basic auth (``admin_user``/``admin_password``)
    over HTTPS and verify with ``ca_cert``; its certificate names 127.0.0.1 and localhost."""

    version: str
    url: str
    pid: int
    admin_user: str
    admin_password: str
    ca_cert: Path
    workdir: Path
    http_port: int
    transport_port: int
    start_seconds: float
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def auth(self) -> tuple[str, str]:
        return (self.admin_user, self.admin_password)

    def alive(self) -> bool:
        if self._process is not None:
            return self._process.poll() is None
        return is_running(self.pid)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM the node, SIGKILL it after ``timeout`` seconds; nothing if it has already gone."""
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait(10)
            return
        stop(self.pid, timeout=timeout)

    def rss_bytes(self) -> int | None:
        return _rss(self.pid)

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "url": self.url,
            "pid": self.pid,
            "admin_user": self.admin_user,
            "admin_password": self.admin_password,
            "ca_cert": str(self.ca_cert),
            "workdir": str(self.workdir),
            "http_port": self.http_port,
            "transport_port": self.transport_port,
            "start_seconds": self.start_seconds,
        }


def start(
    version: str,
    *,
    workdir: Path,
    admin_password: str,
    heap_mb: int = 512,
    timeout: float = 180,
    watch_pid: int | None = None,
    progress: Progress | None = None,
) -> RealEngine:
    """Start a fresh single-node cluster of ``version`` with data, logs and config in ``workdir``.

    Fetches the version first when it is not cached. Returns once the cluster is green.
    With ``watch_pid``, a small watchdog process stops the node once that process has gone,
    so a node shared by several processes outlives whichever of them started it.
    """
    say = progress or (lambda message: None)
    home = fetch(version, progress=say)
    java = java_home()
    began = time.monotonic()
    workdir = Path(workdir).resolve()
    if workdir.exists() and any(workdir.iterdir()):
        raise EngineError(f"{workdir} is not empty; each start needs a fresh folder")
    conf = workdir / "config"
    shutil.copytree(home / "config", conf)
    for name in ("data", "logs", "tmp"):
        (workdir / name).mkdir()
    _set_admin_hash(conf / "opensearch-security" / "internal_users.yml", _bcrypt(home, java, admin_password))
    _rewrite_jvm_options(conf / "jvm.options", workdir)
    ca_cert = conf / "root-ca.pem"
    ca_cert.chmod(ca_cert.stat().st_mode | stat.S_IRGRP | stat.S_IROTH)  # 2.11 leaves it 0600; clients read it
    env = _java_env(java)
    env.update(
        OPENSEARCH_PATH_CONF=str(conf),
        OPENSEARCH_JAVA_OPTS=f"-Xms{heap_mb}m -Xmx{heap_mb}m",
        OPENSEARCH_TMPDIR=str(workdir / "tmp"),
    )
    command = [str(home / "bin" / "opensearch")]
    if os.geteuid() == 0:
        if not _can_unshare():
            raise EngineError("OpenSearch refuses to run as root and `unshare --user` is not possible here")
        command = ["unshare", "--user", "--", *command]
    deadline = time.monotonic() + timeout
    for attempt in range(3):
        http_port, transport_port = _free_port(), _free_port()
        while transport_port == http_port:
            transport_port = _free_port()
        _write_opensearch_yml(
            conf / "opensearch.yml", home / "config" / "opensearch.yml", workdir, http_port, transport_port
        )
        say(f"starting OpenSearch {version} on https://127.0.0.1:{http_port}")
        console = (workdir / "logs" / "console.log").open("ab")
        try:
            process = subprocess.Popen(
                command,
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                # Its own session: a Ctrl-C meant for the caller must not kill a node others share.
                start_new_session=True,
            )
        finally:
            console.close()
        engine = RealEngine(
            version=version,
            url=f"https://127.0.0.1:{http_port}",
            pid=process.pid,
            admin_user=ADMIN_USER,
            admin_password=admin_password,
            ca_cert=ca_cert,
            workdir=workdir,
            http_port=http_port,
            transport_port=transport_port,
            start_seconds=0.0,
            _process=process,
        )
        try:
            _wait_green(engine, process, deadline)
        except _PortTaken:
            if attempt == 2:
                raise EngineError(f"OpenSearch {version}: free ports kept being taken; see {workdir}/logs") from None
            shutil.rmtree(workdir / "data")
            (workdir / "data").mkdir()
            continue
        except BaseException:
            engine.stop(timeout=10)
            raise
        engine.start_seconds = round(time.monotonic() - began, 1)
        if watch_pid is not None:
            _spawn_watchdog(engine.pid, watch_pid)
        say(f"OpenSearch {version} green at {engine.url} after {engine.start_seconds}s (pid {engine.pid})")
        return engine
    raise AssertionError("unreachable")


class _PortTaken(Exception):
    pass


def _wait_green(engine: RealEngine, process: subprocess.Popen[bytes], deadline: float) -> None:
    last = "no answer yet"
    with requests.Session() as session:
        while True:
            if process.poll() is not None:
                log = _tail(engine.workdir / "logs" / "console.log")
                if "BindException" in log or "Address already in use" in log:
                    raise _PortTaken
                raise EngineError(
                    f"OpenSearch {engine.version} exited with {process.returncode} while starting: {_cause(log)}"
                    f" (logs in {engine.workdir / 'logs'})"
                )
            if time.monotonic() > deadline:
                raise EngineError(
                    f"OpenSearch {engine.version} not green in time (last: {last}); logs in {engine.workdir / 'logs'}"
                )
            try:
                # verify per request: a Session's own verify loses to $REQUESTS_CA_BUNDLE.
                answer = session.get(
                    f"{engine.url}/_cluster/health",
                    params={"wait_for_status": "green", "timeout": "1s"},
                    auth=engine.auth,
                    verify=str(engine.ca_cert),
                    timeout=5,
                )
                if answer.status_code == 200 and answer.json().get("status") == "green":
                    return
                last = f"HTTP {answer.status_code} {answer.text[:120]}"
            except requests.ConnectionError as error:
                last = type(error).__name__ if "refused" in str(error) else str(error)[:200]
            except (requests.Timeout, ValueError) as error:
                last = str(error)[:200]
            time.sleep(0.25)


def _tail(path: Path, size: int = 20_000) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - size))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _cause(log: str) -> str:
    causes = [line.strip() for line in log.splitlines() if "Exception:" in line or line.startswith("Caused by")]
    return causes[-1][:300] if causes else "no exception in the console log"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def new_password() -> str:
    """A random admin password strong enough for every supported version's password rules."""
    # Upper, lower, digit and symbol: what 2.12+'s password rules ask for.
    return f"Lp{secrets.token_urlsafe(18)}-7q"


def _bcrypt(home: Path, java: Path, password: str) -> str:
    env = _java_env(java)
    env["LOGPIPE_ENGINE_PASSWORD_TO_HASH"] = password  # by environment, so it never shows in ps
    env["JAVA_OPTS"] = "-XX:TieredStopAtLevel=1"  # a one-shot JVM: the C2 compiler only costs time here
    output = _run(
        [
            "bash",
            str(home / "plugins" / "opensearch-security" / "tools" / "hash.sh"),
            "-env",
            "LOGPIPE_ENGINE_PASSWORD_TO_HASH",
        ],
        env=env,
        what="hashing the admin password",
    )
    hashes = [line.strip() for line in output.splitlines() if re.match(r"^\$2[aby]\$\d\d\$", line.strip())]
    if not hashes:
        raise EngineError("the security plugin's hash.sh printed no bcrypt hash")
    return hashes[-1]


def _set_admin_hash(path: Path, hashed: str) -> None:
    lines = path.read_text().splitlines()
    in_admin = False
    for index, line in enumerate(lines):
        if re.match(r"^\S", line):
            in_admin = line.rstrip() == f"{ADMIN_USER}:"
        elif in_admin and re.match(r"^\s+hash:", line):
            indent = line[: len(line) - len(line.lstrip())]
            lines[index] = f'{indent}hash: "{hashed}"'
            path.write_text("\n".join(lines) + "\n")
            return
    raise EngineError(f"no {ADMIN_USER} user with a hash in {path}")


# Settings this module owns; any line for them left by the distribution or the demo
# configuration is dropped, since OpenSearch rejects a key given twice.
def _our_settings(workdir: Path, http_port: int, transport_port: int) -> dict[str, str]:
    return {
        "cluster.name": "logpipe-real-engine",
        "node.name": "logpipe-node",
        "network.host": "127.0.0.1",
        "http.port": str(http_port),
        "transport.port": str(transport_port),
        "discovery.type": "single-node",
        "path.data": json.dumps(str(workdir / "data")),
        "path.logs": json.dumps(str(workdir / "logs")),
        "cluster.routing.allocation.disk.threshold_enabled": "false",
        "plugins.security.allow_unsafe_democertificates": "true",
        # The demo config writes an audit index per day, which would show up in tests' index listings.
        "plugins.security.audit.type": "noop",
        "node.max_local_storage_nodes": "1",
    }


def _write_opensearch_yml(target: Path, original: Path, workdir: Path, http_port: int, transport_port: int) -> None:
    ours = _our_settings(workdir, http_port, transport_port)
    dropped = {*ours, "cluster.initial_cluster_manager_nodes", "cluster.initial_master_nodes", "discovery.seed_hosts"}
    kept: list[str] = []
    skipping = False
    for line in original.read_text().splitlines():
        if line[:1] not in ("", " ", "\t", "#", "-"):
            key = line.split(":", 1)[0].strip()
            skipping = key in dropped
        elif line[:1] == "#" or not line.strip():
            skipping = False
        if not skipping:
            kept.append(line)
    kept.append("######## logpipe real engine ########")
    kept.extend(f"{key}: {value}" for key, value in ours.items())
    target.write_text("\n".join(kept) + "\n")


def _rewrite_jvm_options(path: Path, workdir: Path) -> None:
    # The shipped options write the GC log, heap dumps and crash files relative to
    # OPENSEARCH_HOME, which is the shared cached install.
    text = path.read_text()
    text = text.replace("file=logs/gc.log", f"file={workdir}/logs/gc.log")
    text = text.replace("-Xloggc:logs/gc.log", f"-Xloggc:{workdir}/logs/gc.log")
    text = text.replace("-XX:HeapDumpPath=data", f"-XX:HeapDumpPath={workdir}/data")
    text = text.replace("-XX:ErrorFile=logs/", f"-XX:ErrorFile={workdir}/logs/")
    # C1 only: about a fifth faster to green on 2 busy cores, and tests send the node little work.
    text += "\n-XX:TieredStopAtLevel=1\n"
    path.write_text(text)


# --------------------------------------------------------------------------- stopping


def is_running(pid: int) -> bool:
    """Whether a process with this pid runs (a zombie does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _is_opensearch(pid: int) -> bool:
    try:
        return b"org.opensearch.bootstrap.OpenSearch" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _rss(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def stop(pid: int, *, timeout: float = 30) -> bool:
    """Stop the OpenSearch node with this pid: SIGTERM, then SIGKILL after ``timeout`` seconds.

    Returns False when no such process runs. Refuses a pid that is not an OpenSearch node, so a
    stale pid that the system has since given to another process is left alone.
    """
    if not is_running(pid):
        return False
    if not _is_opensearch(pid):
        raise EngineError(f"pid {pid} is not an OpenSearch node; not stopping it")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while is_running(pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
        time.sleep(0.1)
    return True


def _start_time(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _spawn_watchdog(engine_pid: int, owner_pid: int) -> None:
    source = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))}
    subprocess.Popen(
        [
            sys.executable,
            "-m",
            "logpipe.sandbox.real_engine",
            "watch",
            str(engine_pid),
            str(owner_pid),
            _start_time(owner_pid) or "-",
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _watch(engine_pid: int, owner_pid: int, owner_started: str) -> None:
    # The start time guards against the owner's pid being handed to a new process.
    def owner_gone() -> bool:
        return not is_running(owner_pid) or (owner_started != "-" and _start_time(owner_pid) != owner_started)

    while is_running(engine_pid):
        if owner_gone():
            with contextlib.suppress(EngineError):
                stop(engine_pid)
            return
        time.sleep(0.5)


# --------------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m logpipe.sandbox.real_engine", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fetching = commands.add_parser("fetch", help="fetch versions into the cache")
    fetching.add_argument("versions", nargs="*", default=list(DEFAULT_VERSIONS))
    starting = commands.add_parser("start", help="start a node and print it as JSON")
    starting.add_argument("version")
    starting.add_argument("--workdir", type=Path, required=True, help="a new or empty folder for this node")
    starting.add_argument("--heap-mb", type=int, default=512)
    starting.add_argument("--timeout", type=float, default=180)
    starting.add_argument("--detach", action="store_true", help="print the JSON and leave the node running")
    starting.add_argument("--watch-pid", type=int, help="stop the node once this process has gone")
    stopping = commands.add_parser("stop", help="stop nodes by pid")
    stopping.add_argument("pids", nargs="+", type=int)
    checking = commands.add_parser("check", help="why a real engine cannot be used here, or ok")
    checking.add_argument("versions", nargs="*", default=list(DEFAULT_VERSIONS))
    checking.add_argument("--no-fetch", action="store_true")
    watching = commands.add_parser("watch")  # internal: the watchdog of start(watch_pid=...)
    watching.add_argument("engine_pid", type=int)
    watching.add_argument("owner_pid", type=int)
    watching.add_argument("owner_started")
    args = parser.parse_args(argv)

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        if args.command == "fetch":
            for version in args.versions:
                began = time.monotonic()
                home = fetch(version, progress=progress)
                info = json.loads((home.parent / MARKER).read_text())
                print(json.dumps({**info, "home": str(home), "seconds": round(time.monotonic() - began, 1)}))
        elif args.command == "start":
            return _start_command(args, progress)
        elif args.command == "stop":
            for pid in args.pids:
                print(json.dumps({"pid": pid, "stopped": stop(pid)}))
        elif args.command == "check":
            reason = unavailable_reason(args.versions, fetch_missing=not args.no_fetch)
            print(reason or "ok")
            return 1 if reason else 0
        elif args.command == "watch":
            _watch(args.engine_pid, args.owner_pid, args.owner_started)
    except EngineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _start_command(args: argparse.Namespace, progress: Progress) -> int:
    # The password comes from the environment so that it does not show in ps.
    password = os.environ.get("LOGPIPE_ENGINE_ADMIN_PASSWORD") or new_password()
    engine = start(
        args.version,
        workdir=args.workdir,
        admin_password=password,
        heap_mb=args.heap_mb,
        timeout=args.timeout,
        watch_pid=args.watch_pid,
        progress=progress,
    )
    print(json.dumps(engine.as_dict()), flush=True)
    if args.detach:
        return 0
    stopping = False

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stopping and engine.alive():
        time.sleep(0.5)
    engine.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
