#!/usr/bin/env bash
# check-trainer.sh NAMESPACE RUN — the kuttl step of case 05: VmafxModelTraining RUN is running
# (Ready, TrainerReachable), its trainer takes one sample (POST /api/v1/samples through a port
# forward to the RUN-trainer Service, with the submitter token of its tokenSecret: the per-frame
# features `vmafx score` gives for the fixture pair), writes checkpoint v1 and pushes it over
# HTTPS to the in-cluster registry, whose certificate comes from a private CA. The run's status
# then shows the sample and modelVersion v1, and a Pod of the vmafx image that trusts that CA
# (Secret e2e-registry-ca) pulls `<registry>:<RUN>-v1` and gets the digest the trainer reports.
set -euo pipefail
ns=$1 run=$2
fixtures="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/fixtures"
: "${VMAFX_BIN:?VMAFX_BIN must name the vmafx binary (test/e2e/run.sh sets it)}"
work=$(mktemp -d)
pf=""
cleanup() {
    [[ -n $pf ]] && kill "$pf" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "check-trainer: $*" >&2
    [[ -f $work/pf.log ]] && sed 's/^/  port-forward: /' "$work/pf.log" >&2
    kubectl -n "$ns" logs "deployment/$run-trainer" --tail=30 2>&1 | sed 's/^/  trainer: /' >&2 || true
    exit 1
}

kubectl -n "$ns" wait --for=condition=Ready "vmafxmodeltraining/$run" --timeout=120s >/dev/null ||
    fail "$run never became Ready"
kubectl -n "$ns" wait --for=condition=TrainerReachable "vmafxmodeltraining/$run" --timeout=60s >/dev/null ||
    fail "$run: the operator never reached its trainer"
pod=$(kubectl -n "$ns" get pods -l "app.kubernetes.io/instance=$run,app.kubernetes.io/name=vmafx-trainer" \
    -o jsonpath='{.items[0].metadata.name}')
kubectl -n "$ns" get pod "$pod" -o jsonpath='trainer pod {.metadata.name} on {.spec.nodeName}, {.status.phase}: image {.status.containerStatuses[0].image}{"\n"}'
kubectl -n "$ns" get vmafxmodeltraining "$run" -o jsonpath="VmafxModelTraining $run: phase {.status.phase}, samples {.status.samples}{\"\n\"}"

# The sample: the base model's six features of each frame of the fixture pair, and a target.
"$VMAFX_BIN" score -r "$fixtures/tiny-ref.y4m" -d "$fixtures/tiny-dist.y4m" --json -o "$work/score.json" --quiet
python3 - "$work/score.json" >"$work/sample.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
keys = ["integer_adm2", "integer_motion2"] + [f"integer_vif_scale{i}" for i in range(4)]
frames = [[f["metrics"][k] for k in keys] for f in doc["frames"]]
json.dump({"id": "e2e-sample-1", "target": 72.5, "frames": frames}, sys.stdout)
PY
token=$(kubectl -n "$ns" get secret e2e-trainer-callers -o jsonpath='{.data.tokens}' | base64 -d | cut -d, -f1)

# A port forward to the trainer's Service (through the API server and the kubelet), on a free
# local port.
kubectl -n "$ns" port-forward "service/$run-trainer" :8080 >"$work/pf.log" 2>&1 &
pf=$!
port=""
for _ in $(seq 1 100); do
    port=$(sed -nE 's/^Forwarding from 127\.0\.0\.1:([0-9]+) .*/\1/p' "$work/pf.log" | head -n 1)
    [[ -n $port ]] && break
    kill -0 "$pf" 2>/dev/null || fail "kubectl port-forward exited"
    sleep 0.2
done
[[ -n $port ]] || fail "kubectl port-forward did not start"

python3 - "$port" "$token" "$work/sample.json" <<'PY' || fail "POST /api/v1/samples failed"
import sys, urllib.request
port, token, body = sys.argv[1], sys.argv[2], open(sys.argv[3], "rb").read()
req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/samples", data=body, method="POST",
                             headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
with urllib.request.urlopen(req, timeout=30) as r:
    print(f"POST /api/v1/samples -> {r.status} {r.read().decode().strip()}")
PY

# The trainer checkpoints and pushes; its /status says so, with the pushed manifest's digest.
python3 - "$port" >"$work/checkpoint.txt" <<'PY' || fail "the trainer pushed no checkpoint within 120 s"
import json, sys, time, urllib.request
port = sys.argv[1]
deadline = time.time() + 120
while time.time() < deadline:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=10) as r:
        status = json.load(r)
    pushed = [c for c in status.get("checkpoints", []) if c.get("pushed")]
    if pushed:
        c = pushed[0]
        print(c["version"], c["digest"], c["samples"], status["samples"])
        sys.exit(0)
    time.sleep(1)
sys.exit(1)
PY
read -r version digest trained taken <"$work/checkpoint.txt"
echo "trainer /status: $taken sample(s) taken; checkpoint $version pushed, digest $digest"
[[ $version == v1 && $taken == 1 ]] || fail "expected checkpoint v1 after one sample, got $version after $taken"

# The operator polls at once when the object changes: touch it rather than wait a minute.
kubectl -n "$ns" annotate "vmafxmodeltraining/$run" e2e.vmafx.dev/poke="$(date +%s)" --overwrite >/dev/null
kubectl -n "$ns" wait --for=jsonpath='{.status.modelVersion}'=v1 "vmafxmodeltraining/$run" --timeout=90s >/dev/null ||
    fail "status.modelVersion never became v1"
kubectl -n "$ns" get vmafxmodeltraining "$run" -o jsonpath="VmafxModelTraining $run: phase {.status.phase}, samples {.status.samples}, modelVersion {.status.modelVersion}, lastCheckpointTime {.status.lastCheckpointTime}{\"\n\"}"
[[ $(kubectl -n "$ns" get vmafxmodeltraining "$run" -o jsonpath='{.status.samples}') == 1 ]] ||
    fail "status.samples is not 1"

# Pulled back in the cluster by the vmafx image, trusting the private CA and nothing else new.
registry=$(kubectl -n "$ns" get vmafxmodeltraining "$run" -o jsonpath='{.spec.outputRegistry}')
reference="oci://$registry:$run-$version"
kubectl -n "$ns" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $run-pull
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    fsGroup: 65532
    seccompProfile: { type: RuntimeDefault }
  containers:
    - name: pull
      image: ghcr.io/vmafx/vmafx:0.1.0
      imagePullPolicy: Never
      args: ["model", "pull", "$reference", "--registry-ca", "/ca/ca.crt", "-o", "/tmp/model.json"]
      resources:
        requests: { cpu: 20m, memory: 32Mi }
        limits: { memory: 256Mi }
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities: { drop: ["ALL"] }
      volumeMounts:
        - { name: ca, mountPath: /ca, readOnly: true }
        - { name: tmp, mountPath: /tmp }
  volumes:
    - name: ca
      secret: { secretName: e2e-registry-ca, defaultMode: 0440 }
    - name: tmp
      emptyDir: {}
YAML
if ! kubectl -n "$ns" wait --for=jsonpath='{.status.phase}'=Succeeded "pod/$run-pull" --timeout=120s >/dev/null; then
    kubectl -n "$ns" logs "pod/$run-pull" >&2 || true
    fail "pod $run-pull did not pull $reference"
fi
pulled=$(kubectl -n "$ns" logs "pod/$run-pull" | tail -n 1)
echo "pod $run-pull pulled $reference over HTTPS (private CA): $pulled"
[[ $pulled == "$digest" ]] || fail "the pulled digest $pulled is not the trainer's $digest"
