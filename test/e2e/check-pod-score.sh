#!/usr/bin/env bash
# check-pod-score.sh NAMESPACE JOB — a kuttl step of case 02: VmafxJob JOB ran with
# `execution: pod`, and holds the pooled VMAF that `vmafx score` computes on this machine for the
# fixture pair; status.pod names a Pod of the vmafx image that Succeeded on the test node. Prints
# the Pod, its image and image ID as the kubelet reports them, and both scores.
set -euo pipefail
ns=$1 job=$2
fixtures="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/fixtures"
: "${VMAFX_BIN:?VMAFX_BIN must name the vmafx binary (test/e2e/run.sh sets it)}"
node=${E2E_NODE_NAME:?E2E_NODE_NAME must name the test node}

got=$(kubectl -n "$ns" get vmafxjob "$job" -o jsonpath='{.status.score}')
pod=$(kubectl -n "$ns" get vmafxjob "$job" -o jsonpath='{.status.pod}')
psnr=$(kubectl -n "$ns" get vmafxjob "$job" -o jsonpath='{.status.scores.psnr_y}')
[[ -n $got && -n $pod && -n $psnr ]] || { echo "vmafxjob $job: no score, psnr_y or pod in its status" >&2; exit 1; }

kubectl -n "$ns" get pod "$pod" -o jsonpath='pod {.metadata.name} on {.spec.nodeName}, phase {.status.phase}: image {.status.containerStatuses[0].image} ({.status.containerStatuses[0].imageID}), exit {.status.containerStatuses[0].state.terminated.exitCode}, termination message {.status.containerStatuses[0].state.terminated.message}{"\n"}'
[[ $(kubectl -n "$ns" get pod "$pod" -o jsonpath='{.spec.nodeName} {.status.phase}') == "$node Succeeded" ]] ||
    { echo "pod $pod did not succeed on $node" >&2; exit 1; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$VMAFX_BIN" score -r "$fixtures/tiny-ref.y4m" -d "$fixtures/tiny-dist.y4m" --json -o "$out" --quiet
want=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["pooled_metrics"]["vmaf"]["mean"])' "$out")
echo "vmafxjob $job: score $got from pod $pod; vmafx score on the same pair: $want"
python3 -c 'import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if abs(a - b) <= 1e-6 else 1)' "$got" "$want" ||
    { echo "vmafxjob $job: score $got differs from vmafx score's $want" >&2; exit 1; }
