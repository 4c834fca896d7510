# shellcheck shell=bash
# Real OpenSearch nodes for the tests (issue 15). Source it from .ci/run once the venv exists
# and before pytest:
#
#     source .ci/real-engines.sh
#
# It fetches OpenSearch 2.19.1 and 2.11.1 with their security plugin from Maven Central into
# ~/.cache/logpipe/engines (outside the clone, reused by later runs on the same machine;
# $LOGPIPE_ENGINE_CACHE moves it), starts one node of each on 127.0.0.1, both at once, and
# exports for each (2_19, 2_11):
#
#     LOGPIPE_TEST_ENGINE_2_19            https://127.0.0.1:PORT
#     LOGPIPE_TEST_ENGINE_2_19_PASSWORD   the admin password (random per run)
#     LOGPIPE_TEST_ENGINE_2_19_USER       admin
#     LOGPIPE_TEST_ENGINE_2_19_CA         the demo root CA (PEM) that signed the node's certificate
#     LOGPIPE_TEST_ENGINE_2_19_VERSION    2.19.1
#
# It sets an EXIT trap that stops both nodes (replacing any EXIT trap set before it); a watchdog
# also stops them should this shell end without running the trap. A version that cannot be
# fetched or started is reported and not exported: its tests then start it themselves or skip
# with the reason. Time on this 2-core machine: about 30 s to fetch both the first time, then
# 10-35 s to green depending on load.

real_engines_python=${REAL_ENGINES_PYTHON:-.venv/bin/python}
# VERSION[@WORKER]: a node for one pytest-xdist worker only (its variables end in _WORKER); most
# real-engine tests use 2.19, so each of the two workers gets its own and neither waits.
real_engines_versions=${REAL_ENGINES_VERSIONS:-2.19.1 2.11.1 2.19.1@GW1}
real_engines_dir=$(mktemp -d "${TMPDIR:-/tmp}/logpipe-real-engines.XXXXXX")
real_engines_pids=()

real_engines_stop() {
  if ((${#real_engines_pids[@]})); then
    "$real_engines_python" -m logpipe.sandbox.real_engine stop "${real_engines_pids[@]}" >/dev/null || true
  fi
  rm -rf "$real_engines_dir"
}
trap real_engines_stop EXIT

real_engines_began=$SECONDS
real_engines_jobs=()
for real_engines_version in $real_engines_versions; do
  "$real_engines_python" -m logpipe.sandbox.real_engine start "${real_engines_version%@*}" \
    --workdir "$real_engines_dir/$real_engines_version" --detach --watch-pid $$ \
    >"$real_engines_dir/$real_engines_version.json" 2>"$real_engines_dir/$real_engines_version.log" &
  real_engines_jobs+=("$!")
done

real_engines_index=0
for real_engines_version in $real_engines_versions; do
  if wait "${real_engines_jobs[$real_engines_index]}"; then
    real_engines_exports=$("$real_engines_python" - "$real_engines_dir/$real_engines_version.json" \
      "$real_engines_version" <<'PY'
import json
import shlex
import sys

node = json.load(open(sys.argv[1]))
major, minor = node["version"].split(".")[:2]
worker = sys.argv[2].partition("@")[2]
name = f"LOGPIPE_TEST_ENGINE_{major}_{minor}" + (f"_{worker}" if worker else "")
for suffix, value in (
    ("", node["url"]),
    ("_PASSWORD", node["admin_password"]),
    ("_USER", node["admin_user"]),
    ("_CA", node["ca_cert"]),
    ("_VERSION", node["version"]),
):
    print(f"export {name}{suffix}={shlex.quote(str(value))}")
print(f"real_engines_pids+=({int(node['pid'])})")
PY
    )
    eval "$real_engines_exports"
    echo "real OpenSearch $real_engines_version: green after $((SECONDS - real_engines_began)) s" >&2
  else
    echo "real OpenSearch $real_engines_version not started:" >&2
    tail -n 3 "$real_engines_dir/$real_engines_version.log" >&2 || true
  fi
  real_engines_index=$((real_engines_index + 1))
done
unset real_engines_began real_engines_jobs real_engines_index real_engines_version real_engines_exports
