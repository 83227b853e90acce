#!/usr/bin/env bash
# kind-cluster.sh — the e2e cases of test/e2e/cases on a kind cluster, for machines with Docker or
# Podman (docs/k8s/integration-tests.md). CI here does not run it: CI has no Docker; it runs
# test/e2e/run.sh on a node of its own instead.
#
#   test/e2e/kind-cluster.sh [--delete] [CASE...]
#
# Creates the kind cluster $KIND_CLUSTER (default vmafx-e2e) unless it exists, loads the vmafx
# image (scripts/build-image.sh) and the S3 server image into it, advertises a fake
# nvidia.com/gpu (FAKE_GPUS, default 2) on the node, installs the S3 server and the chart, and
# runs the cases with kuttl. --delete removes the cluster at the end. Needs kind on PATH and
# docker or podman (KIND_EXPERIMENTAL_PROVIDER=podman); kubectl, helm and kuttl come from
# test/k8s/testenv.sh's cache (built if missing), cargo builds vmafx and s3s-fs.
set -euo pipefail
E2E_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=lib.sh
source "$E2E_ROOT/test/e2e/lib.sh"
cd "$E2E_ROOT"
testenv="$E2E_ROOT/test/k8s/testenv.sh"

delete=0
if [[ ${1:-} == --delete ]]; then
    delete=1
    shift
fi
cluster=${KIND_CLUSTER:-vmafx-e2e}
command -v kind >/dev/null || die "kind is not on PATH (https://kind.sigs.k8s.io/docs/user/quick-start/)"
command -v docker >/dev/null || command -v podman >/dev/null || die "kind needs docker or podman"

target_dir=${CARGO_TARGET_DIR:-$E2E_ROOT/target}
E2E_WORK="$target_dir/e2e-kind"
E2E_ARTIFACTS=${E2E_ARTIFACTS:-$target_dir/e2e-kind-artifacts}
E2E_NODE_NAME="$cluster-control-plane"
mkdir -p "$E2E_WORK"
rm -rf "$E2E_ARTIFACTS"

step "building kubectl, helm and kuttl (cached)"
"$testenv" build kubernetes helm kuttl registry 2>"$E2E_WORK/testenv-build.log" ||
    { tail -n 30 "$E2E_WORK/testenv-build.log" >&2; die "building kubectl, helm or kuttl failed"; }
export PATH="$("$testenv" bin-dir kubernetes):$("$testenv" bin-dir helm):$("$testenv" bin-dir kuttl):$PATH"
VMAFX_BIN=${VMAFX_BIN:-$target_dir/debug/vmafx}
[[ -x $VMAFX_BIN ]] || cargo build --locked -p vmafx >&2
e2e_images

if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
    step "reusing kind cluster $cluster (its vmafx-system namespace is recreated)"
else
    step "creating kind cluster $cluster"
    kind create cluster --name "$cluster" --wait 120s >&2
fi
export KUBECONFIG="$E2E_WORK/kubeconfig"
kind get kubeconfig --name "$cluster" >"$KUBECONFIG"
if [[ $delete == 1 ]]; then trap 'kind delete cluster --name "$cluster" >&2' EXIT; fi
helm uninstall vmafx --namespace vmafx-system >/dev/null 2>&1 || true
kubectl delete namespace vmafx-system --ignore-not-found --wait=true >/dev/null

step "loading the images into $cluster"
kind load image-archive "$E2E_WORK/vmafx.tar" --name "$cluster" >&2
kind load image-archive "$E2E_WORK/e2e-s3.tar" --name "$cluster" >&2
kind load image-archive "$E2E_WORK/e2e-registry.tar" --name "$cluster" >&2

# The fake GPU: an extended resource in the node's status, which the scheduler counts like a
# device plugin's (the kubelet keeps a resource no plugin registered). Pods asking for
# nvidia.com/gpu schedule; nothing CUDA runs, and no case needs more than the CPU backend.
gpus=${FAKE_GPUS:-2}
kubectl patch node "$E2E_NODE_NAME" --subresource=status --type=json \
    -p "[{\"op\":\"add\",\"path\":\"/status/capacity/nvidia.com~1gpu\",\"value\":\"$gpus\"}]" >/dev/null
[[ $(kubectl get node "$E2E_NODE_NAME" -o jsonpath='{.status.allocatable.nvidia\.com/gpu}') == "$gpus" ]] ||
    die "node $E2E_NODE_NAME does not advertise nvidia.com/gpu=$gpus"
say "node $E2E_NODE_NAME advertises nvidia.com/gpu: $gpus (fake)"

e2e_install
e2e_cases "$@"
