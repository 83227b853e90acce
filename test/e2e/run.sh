#!/usr/bin/env bash
# run.sh — the end-to-end suite on this machine: a real Kubernetes cluster (etcd, kube-apiserver
# and a real node: kubelet, containerd + runc, CNI bridge, kube-proxy, scheduler, controller
# manager, CoreDNS; test/k8s/testenv.sh up --with-node), the vmafx image built without Docker
# (scripts/build-image.sh) and imported into the node's containerd, the CRDs and the Helm chart
# deploy/helm/vmafx installed with values-e2e.yaml, an S3 server (s3s-fs) and an OCI registry
# (distribution, HTTPS with a throwaway private CA) running as Pods, then
# the kuttl cases of cases/, one at a time. The last line is `e2e: N passed, M failed`.
#
#   test/e2e/run.sh [CASE...]     (default: every case; a case holding a PENDING file is
#                                  listed as pending and not run)
#
# Environment:
#   VMAFX_BIN        the vmafx binary to package and to compute expected scores with
#                    (default: ${CARGO_TARGET_DIR:-target}/debug/vmafx; built if missing)
#   E2E_ARTIFACTS    where a failed case leaves logs and cluster state (default: target/e2e-artifacts)
#   E2E_STATE        the cluster's state dir (default: ${TMPDIR:-/tmp}/vmafx-e2e)
#   E2E_KEEP=1       leave the cluster running at the end (stop it: test/k8s/testenv.sh down $E2E_STATE)
#   CI=true          a missing prerequisite (root) fails instead of printing SKIPPED
set -euo pipefail
E2E_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=lib.sh
source "$E2E_ROOT/test/e2e/lib.sh"
cd "$E2E_ROOT"
testenv="$E2E_ROOT/test/k8s/testenv.sh"

if [[ $(id -u) != 0 ]]; then
    [[ ${CI:-} == true ]] && die "the e2e suite needs root (containerd, network namespaces, iptables)"
    echo "SKIPPED: test/e2e (needs root to run a kubelet and containerd); nothing was verified"
    exit 0
fi

state=${E2E_STATE:-${TMPDIR:-/tmp}/vmafx-e2e}
target_dir=${CARGO_TARGET_DIR:-$E2E_ROOT/target}
E2E_WORK="$target_dir/e2e"
E2E_ARTIFACTS=${E2E_ARTIFACTS:-$target_dir/e2e-artifacts}
E2E_NODE_NAME=vmafx-node
mkdir -p "$E2E_WORK"
rm -rf "$E2E_ARTIFACTS"

step "building the cluster's tools (cached)"
nice -n 10 "$testenv" build kubernetes kubernetes-node etcd helm kuttl coredns registry 2>"$E2E_WORK/testenv-build.log" ||
    { tail -n 30 "$E2E_WORK/testenv-build.log" >&2; die "building the cluster's tools failed"; }
export PATH="$("$testenv" bin-dir kubernetes):$("$testenv" bin-dir helm):$("$testenv" bin-dir kuttl):$PATH"

"$E2E_HERE/fixtures/gen-tiny-yuv.sh" --check || die "the committed fixtures differ from fixtures/gen-tiny-yuv.sh's output"
VMAFX_BIN=${VMAFX_BIN:-$target_dir/debug/vmafx}
if [[ ! -x $VMAFX_BIN ]]; then
    step "building vmafx (cargo build -p vmafx)"
    cargo build --locked -p vmafx >&2
fi
e2e_images

if [[ -d $state ]]; then "$testenv" down "$state" 2>/dev/null || true; fi
finish() {
    local rc=$?
    if [[ $rc != 0 && -d $state ]]; then
        mkdir -p "$E2E_ARTIFACTS/cluster"
        cp "$state"/*.log "$E2E_ARTIFACTS/cluster/" 2>/dev/null || true
    fi
    if [[ ${E2E_KEEP:-0} == 1 ]]; then
        say "cluster left running: KUBECONFIG=$state/kubeconfig; stop it with: $testenv down $state"
    else
        "$testenv" down "$state" 2>/dev/null || true
    fi
    return $rc
}
trap finish EXIT
step "starting the cluster with a node"
up_start=$(date +%s)
# Torn down with this script, even if it is killed, unless E2E_KEEP asks to keep it.
owner=$$
[[ ${E2E_KEEP:-0} == 1 ]] && owner=""
VMAFX_TESTENV_OWNER_PID=$owner "$testenv" up --with-node --image "$E2E_WORK/vmafx.tar" \
    --image "$E2E_WORK/e2e-s3.tar" --image "$E2E_WORK/e2e-registry.tar" "$state" >/dev/null 2>"$E2E_WORK/testenv-up.log" ||
    { tail -n 40 "$E2E_WORK/testenv-up.log" >&2; die "the cluster did not come up"; }
say "cluster with a node up in $(($(date +%s) - up_start))s"
export KUBECONFIG="$state/kubeconfig"

e2e_install
e2e_cases "$@"
