#!/usr/bin/env bash
# check-score.sh NAMESPACE JOB — a kuttl step of cases 02 and 04: VmafxJob JOB (Succeeded) holds
# the pooled VMAF that `vmafx score` computes on this machine for the fixture pair, and the
# worker that scored it is a Pod on the test node running the vmafx image. Prints both, and the
# Pod's image and image ID as the kubelet reports them.
set -euo pipefail
ns=$1 job=$2
fixtures="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/fixtures"
: "${VMAFX_BIN:?VMAFX_BIN must name the vmafx binary (test/e2e/run.sh sets it)}"

got=$(kubectl -n "$ns" get vmafxjob "$job" -o jsonpath='{.status.score}')
worker=$(kubectl -n "$ns" get vmafxjob "$job" -o jsonpath='{.status.node}')
[[ -n $got && -n $worker ]] || { echo "vmafxjob $job: no score or node in its status" >&2; exit 1; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$VMAFX_BIN" score -r "$fixtures/tiny-ref.y4m" -d "$fixtures/tiny-dist.y4m" --json -o "$out" --quiet
want=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["pooled_metrics"]["vmaf"]["mean"])' "$out")

# A node pool worker registers as POD.NAMESPACE.
pod=${worker%%.*} pod_ns=${worker#*.}
kubectl -n "$pod_ns" get pod "$pod" -o jsonpath='{.metadata.name} on {.spec.nodeName}, phase {.status.phase}: image {.status.containerStatuses[0].image} ({.status.containerStatuses[0].imageID}), running since {.status.containerStatuses[0].state.running.startedAt}{"\n"}'
node=${E2E_NODE_NAME:?E2E_NODE_NAME must name the test node}
[[ $(kubectl -n "$pod_ns" get pod "$pod" -o jsonpath='{.spec.nodeName} {.status.phase}') == "$node Running" ]] ||
    { echo "worker $worker is not a running Pod on $node" >&2; exit 1; }
echo "vmafxjob $job: score $got from worker $worker; vmafx score on the same pair: $want"
python3 -c 'import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if abs(a - b) <= 1e-6 else 1)' "$got" "$want" ||
    { echo "vmafxjob $job: score $got differs from vmafx score's $want" >&2; exit 1; }
