"""Real OpenSearch engines for tests: one node per version per pytest session.

Where the node comes from:

1. CI's environment. ``.ci/real-engines.sh`` starts each version before pytest and exports,
   per version keyed by major and minor (``2_19``, ``2_11``)::

       LOGPIPE_TEST_ENGINE_2_19            https://127.0.0.1:PORT
       LOGPIPE_TEST_ENGINE_2_19_PASSWORD   the admin password
       LOGPIPE_TEST_ENGINE_2_19_CA         the demo root CA (PEM) that signed the node's certificate
       LOGPIPE_TEST_ENGINE_2_19_USER       optional, default admin
       LOGPIPE_TEST_ENGINE_2_19_VERSION    optional, the full version

2. Otherwise the first test process that asks starts it: a file lock and a state file per version
   in a folder every xdist worker of this session shares (``$LOGPIPE_ENGINE_RUN_DIR``, else the
   session's pytest temp root), so ``-n auto`` still starts one node per version. The node is
   not tied to the worker that started it: a watchdog stops it once the pytest session's main
   process has gone (the xdist controller, or pytest itself without xdist).

When a real engine cannot run here (no Java, no Maven to fetch it, ``LOGPIPE_REAL_ENGINE=0``...),
the test is skipped with the reason.

Fixtures (``real_engine_2_19``, ``real_engine_2_11``, and ``real_engine_any`` over both) become
available everywhere once ``tests/conftest.py`` has ``pytest_plugins = ["tests.real_engine"]``;
until then, call ``engine_for(version, tmp_path_factory)`` from a fixture of your own.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from logpipe.sandbox import real_engine

# The full version started for each major.minor when CI has not started one. CI starts one 2.19
# node per xdist worker (LOGPIPE_TEST_ENGINE_2_19 for gw0, LOGPIPE_TEST_ENGINE_2_19_GW1 for gw1, ...).
VERSIONS = {"2.19": "2.19.1", "2.11": "2.11.1"}


@dataclass(frozen=True)
class Engine:
    """How to reach a running node: HTTPS with basic auth, verified against ``ca_cert``."""

    version: str
    url: str
    admin_user: str
    admin_password: str
    ca_cert: str
    pid: int | None = None

    @property
    def auth(self) -> tuple[str, str]:
        return (self.admin_user, self.admin_password)

    def request(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> requests.Response:
        """One call as admin (``auth=False``: anonymous), verifying the node's certificate."""
        # verify on the call itself: a Session's verify would lose to $REQUESTS_CA_BUNDLE.
        kwargs.setdefault("timeout", 30)
        return requests.request(
            method, f"{self.url}{path}", auth=self.auth if auth else None, verify=self.ca_cert, **kwargs
        )


def env_name(version: str) -> str:
    """``2.19.1`` -> ``LOGPIPE_TEST_ENGINE_2_19``."""
    major, minor = version.split(".")[:2]
    return f"LOGPIPE_TEST_ENGINE_{major}_{minor}"


def worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "gw0")


def from_env(version: str) -> Engine | None:
    """The node CI started for this version's major.minor (for this xdist worker where the version
    has one per worker), or None when the environment names none."""
    name = env_name(version)
    if _per_worker(version):
        mine = f"{name}_{worker().upper()}"
        name = mine if os.environ.get(mine) or worker() != "gw0" else name
    url = os.environ.get(name)
    if not url:
        return None
    missing = [f"{name}{suffix}" for suffix in ("_PASSWORD", "_CA") if not os.environ.get(f"{name}{suffix}")]
    if missing:
        raise pytest.UsageError(f"{name} is set but {' and '.join(missing)} not")
    return Engine(
        version=os.environ.get(f"{name}_VERSION", version),
        url=url.rstrip("/"),
        admin_user=os.environ.get(f"{name}_USER", real_engine.ADMIN_USER),
        admin_password=os.environ[f"{name}_PASSWORD"],
        ca_cert=os.environ[f"{name}_CA"],
    )


def engine_for(version: str, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """A running node of ``version`` (or CI's node of the same major.minor); skips when none can run."""
    version = VERSIONS.get(version, version)
    engine = from_env(version)
    if engine is not None:
        return engine
    # Tests never download: CI's .ci/real-engines.sh (or `python -m logpipe.sandbox.real_engine fetch`)
    # fills the cache beforehand.
    reason = real_engine.unavailable_reason((version,), fetch_missing=False)
    if reason:
        pytest.skip(f"real OpenSearch {version}: {reason}")
    folder = run_dir(tmp_path_factory)
    return _shared(version, folder / worker() if _per_worker(version) else folder)


def _per_worker(version: str) -> bool:
    """2.19 carries most real-engine tests: each xdist worker gets a node of its own, so they never
    wait for each other; the few 2.11 tests share one node and take turns."""
    return version.startswith("2.19")


def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder all processes of this pytest session share for their nodes."""
    configured = os.environ.get("LOGPIPE_ENGINE_RUN_DIR")
    if configured:
        return Path(configured)
    base = tmp_path_factory.getbasetemp()
    # Each xdist worker gets its own basetemp (…/pytest-N/popen-gwK); their parent is the session's.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    return base / "real-engines"


def _session_owner() -> int:
    # xdist workers are children of the controller, which outlives every worker.
    return os.getppid() if os.environ.get("PYTEST_XDIST_WORKER") else os.getpid()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _shared(version: str, folder: Path) -> Engine:
    folder.mkdir(parents=True, exist_ok=True)
    state = folder / f"{version}.json"
    with _locked(folder / f"{version}.lock"):
        if state.is_file():
            engine = Engine(**json.loads(state.read_text()))
            if _answers(engine):
                return engine
        workdir = folder / version
        suffix = 1
        while workdir.exists():  # a node of an earlier session in $LOGPIPE_ENGINE_RUN_DIR, now gone
            suffix += 1
            workdir = folder / f"{version}-{suffix}"
        started = real_engine.start(
            version, workdir=workdir, admin_password=real_engine.new_password(), watch_pid=_session_owner()
        )
        engine = Engine(
            version=version,
            url=started.url,
            admin_user=started.admin_user,
            admin_password=started.admin_password,
            ca_cert=str(started.ca_cert),
            pid=started.pid,
        )
        state.write_text(json.dumps(asdict(engine)))
        return engine


def _answers(engine: Engine) -> bool:
    if engine.pid is not None and not real_engine.is_running(engine.pid):
        return False
    try:
        return engine.request("GET", "/_cluster/health", timeout=5).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="session")
def real_engine_2_19(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return engine_for("2.19", tmp_path_factory)


@pytest.fixture(scope="session")
def real_engine_2_11(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return engine_for("2.11", tmp_path_factory)


@pytest.fixture(scope="session", params=sorted(VERSIONS.values()))
def real_engine_any(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """Each supported version in turn."""
    return engine_for(request.param, tmp_path_factory)


# A clean domain for each test ---------------------------------------------------------------------
SECURITY = "/_plugins/_security/api"
_KINDS = ("rolesmapping", "roles", "internalusers", "tenants")
_snapshots: dict[str, dict[str, dict[str, Any]]] = {}


def security_state(engine: Engine) -> dict[str, dict[str, Any]]:
    return {kind: engine.request("GET", f"{SECURITY}/{kind}").json() for kind in _KINDS}


def reset(engine: Engine) -> None:
    """Put the node back as it started: no index, no template, the demo security configuration.

    The first call remembers the security configuration as the node started; tests on a real node
    take turns (:func:`exclusive`), so this never races another test.
    """
    baseline = _snapshots.setdefault(engine.url, security_state(engine))
    for row in engine.request("GET", "/_cat/indices?format=json&h=index").json():
        if not row["index"].startswith("."):
            engine.request("DELETE", f"/{row['index']}")
    for entry in engine.request("GET", "/_index_template").json().get("index_templates", []):
        engine.request("DELETE", f"/_index_template/{entry['name']}")
    now = security_state(engine)
    for kind in _KINDS:
        for name, body in now[kind].items():
            if body.get("reserved") or body.get("static") or body.get("hidden"):
                continue
            if name not in baseline[kind]:
                engine.request("DELETE", f"{SECURITY}/{kind}/{name}")
            elif body != baseline[kind][name] and kind == "rolesmapping":
                kept = {
                    k: v
                    for k, v in baseline[kind][name].items()
                    if k in ("users", "backend_roles", "hosts", "and_backend_roles", "description")
                }
                engine.request("PUT", f"{SECURITY}/{kind}/{name}", json=kept)


@contextlib.contextmanager
def exclusive(engine: Engine) -> Iterator[None]:
    """The node to this test alone: xdist workers share one node per version, and each test starts
    from a reset node, so tests on it take turns (a lock file per node, held for the whole test)."""
    port = engine.url.rsplit(":", 1)[-1]
    with _locked(Path(tempfile.gettempdir()) / f"logpipe-real-engine-{port}.lock"):
        reset(engine)
        try:
            yield
        finally:
            # Clean for the next one too: another worker's first reset takes the node as it finds it
            # for the baseline.
            reset(engine)


@contextlib.contextmanager
def standin_for(engine: Engine, **options: Any) -> Iterator[Any]:
    """The domain endpoint logpipe's tests talk to, in front of the real node: SigV4 and the master user
    act as its admin, other basic-auth users as themselves, and its own security plugin answers."""
    from logpipe.sandbox.opensearch_standin import OpenSearchStandin

    with exclusive(engine):
        server = OpenSearchStandin(
            engine.url, upstream_ca=engine.ca_cert, upstream_auth=engine.auth, security_upstream=True, **options
        )
        server.start()
        try:
            yield server
        finally:
            server.stop()
