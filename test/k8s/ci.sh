#!/usr/bin/env bash
# ci.sh — what CI runs for the Kubernetes test environment: build the pinned control-plane tools
# (cached in ~/.cache/vmafx-testenv; a warm run takes about a second), then run the smoke test
# against a fresh etcd + kube-apiserver. Exits non-zero on any failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

die() {
    echo "ci.sh: error: $*" >&2
    exit 1
}

# Tools the environment needs besides go and cargo; install any that are missing on Debian.
missing=()
for tool in openssl setsid base64 awk; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    command -v apt-get >/dev/null || die "missing tools: ${missing[*]} (and no apt-get to install them)"
    echo "ci.sh: installing ${missing[*]} with apt-get" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl util-linux coreutils gawk >/dev/null
fi
command -v go >/dev/null || die "go is not installed (Go >= 1.26 builds the control plane)"
command -v cargo >/dev/null || die "cargo is not installed"

start=$(date +%s)
nice -n 10 "$here/testenv.sh" build
echo "ci.sh: testenv build step took $(($(date +%s) - start))s" >&2
# scripts/test.sh builds the tools first and then runs every test, these included.
[[ ${1:-} == --build-only ]] && exit 0

cd "$root"
cargo test -p vmafx-testenv
