#!/usr/bin/env bash
# Runs every vmafx test on a fresh machine: installs what is missing (ffmpeg, rclone, chromium,
# the storage emulators), checks formatting and lints, builds the real Kubernetes control plane
# (etcd + kube-apiserver), helm, an OCI registry and crane (cached), then runs every Rust test
# suite, the operator's and the container image's included, then the end-to-end suite (test/e2e).
set -euo pipefail
cd "$(dirname "$0")/.."
# Each phase's start, in seconds since this script began, so that a CI log shows where time goes
# (cold tool cache, cold cargo target) without a profiler.
test_start=$(date +%s)
phase() { echo "== [$(($(date +%s) - test_start))s] $*"; }

# Some CI sandboxes provide /dev/null as a plain file. Whatever a probe writes there is then read
# back by the next process handed /dev/null as stdin, and cargo hands it to rustc's target probe,
# which fails on the text. Put the device back when we may, otherwise keep the file empty.
reset_dev_null() {
  [ -c /dev/null ] && return 0
  if [ "$(id -u)" = 0 ] && rm -f /dev/null 2>&- && mknod -m 666 /dev/null c 1 3 2>&-; then
    echo "test.sh: /dev/null was a plain file; recreated the character device" >&2
    return 0
  fi
  : >/dev/null
  echo "test.sh: /dev/null is a plain file; emptied it" >&2
}
reset_dev_null

need_apt=()
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v rclone >/dev/null 2>&1 || need_apt+=(rclone)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3) # test/e2e: fixture check, score check
command -v prometheus-pushgateway >/dev/null 2>&1 || need_apt+=(prometheus-pushgateway) # helm_chart.rs: the Job workload's push
# crates/vmafx/tests/mcp.rs: a virtual environment for the MCP Python SDK (Debian splits venv out).
python3 -c 'import ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test.sh: installing ${need_apt[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
# Storage emulators for the gs:// and azure:// fetch tests, cached between runs.
tools=${VMAFX_TEST_TOOLS:-$HOME/.cache/vmafx-test-tools}
mkdir -p "$tools/bin"
if [ -z "${FAKE_GCS_SERVER:-}" ] && ! command -v fake-gcs-server >/dev/null 2>&1; then
  if [ ! -x "$tools/bin/fake-gcs-server" ]; then
    echo "test.sh: installing fake-gcs-server"
    GOBIN="$tools/bin" go install github.com/fsouza/fake-gcs-server@v1.56.1
  fi
  export FAKE_GCS_SERVER="$tools/bin/fake-gcs-server"
fi
if [ -z "${AZURITE_BLOB:-}" ] && ! command -v azurite-blob >/dev/null 2>&1; then
  if [ ! -x "$tools/azurite/node_modules/.bin/azurite-blob" ]; then
    echo "test.sh: installing azurite"
    mkdir -p "$tools/azurite"
    (cd "$tools/azurite" && npm install --silent --no-audit --no-fund azurite@3.35.0 >/dev/null)
  fi
  export AZURITE_BLOB="$tools/azurite/node_modules/.bin/azurite-blob"
fi
# The official MCP Python SDK, the client of crates/vmafx/tests/mcp.rs, cached between runs.
if [ -z "${VMAFX_MCP_PYTHON:-}" ]; then
  if ! "$tools/mcp-venv/bin/python" -c 'import mcp.client.stdio' >/dev/null 2>&1; then
    echo "test.sh: installing the MCP Python SDK"
    python3 -m venv "$tools/mcp-venv"
    "$tools/mcp-venv/bin/python" -m pip install --quiet mcp==2.3.0
  fi
  export VMAFX_MCP_PYTHON="$tools/mcp-venv/bin/python"
fi
command -v cargo >/dev/null 2>&1 || { echo "test.sh: cargo is required (https://rustup.rs)" >&2; exit 1; }
rustup component add rustfmt clippy >/dev/null 2>&1 || true

# A CI run builds everything once, from cold: incremental compilation only adds work there, and
# full debug info makes every test binary's link slower. Line tables keep file:line in panics.
if [ "${CI:-}" = true ]; then
  export CARGO_INCREMENTAL=0
  export CARGO_PROFILE_DEV_DEBUG=${CARGO_PROFILE_DEV_DEBUG:-line-tables-only}
  export CARGO_PROFILE_TEST_DEBUG=${CARGO_PROFILE_TEST_DEBUG:-line-tables-only}
fi

reset_dev_null
phase "cargo fmt"
cargo fmt --all --check
reset_dev_null
phase "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
# The operator tests run against a real etcd + kube-apiserver: build those first (cached).
reset_dev_null
phase "kubernetes control plane tools"
test/k8s/ci.sh --build-only
reset_dev_null
phase "cargo test"
cargo test --workspace --locked
# The end-to-end suite: a real node (kubelet, containerd) under the test control plane, the chart
# and the vmafx image built above, kuttl cases (docs/TESTING.md, "End-to-end suite").
reset_dev_null
phase "e2e (test/e2e/run.sh)"
test/e2e/run.sh
echo "test.sh: all tests passed in $(($(date +%s) - test_start))s"
