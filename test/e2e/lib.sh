# lib.sh — what run.sh (the test node of testenv.sh) and kind-cluster.sh (kind) share: building
# the two images, installing the S3 server and the chart, running the kuttl cases. Sourced.
#
# Callers set: E2E_ROOT (the repository), E2E_WORK (scratch and logs), E2E_ARTIFACTS, VMAFX_BIN,
# E2E_NODE_NAME (the node Pods must run on), KUBECONFIG, and put kubectl, helm and kubectl-kuttl
# on PATH.

E2E_HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
S3S_FS_VERSION=0.14.1
E2E_T0=${E2E_T0:-$(date +%s)}

say() { echo "e2e: $*" >&2; }
step() { say "[$(($(date +%s) - E2E_T0))s] $*"; }
die() {
    echo "e2e: error: $*" >&2
    echo "e2e: 0 passed, 1 failed"
    exit 1
}

# e2e_images: $E2E_WORK/vmafx.tar (scripts/build-image.sh around $VMAFX_BIN),
# $E2E_WORK/e2e-s3.tar (s3s-fs, static, with the fixtures as bucket `e2e`) and
# $E2E_WORK/e2e-registry.tar (distribution's registry, static, serving HTTPS), all OCI archives.
e2e_images() {
    local testenv="$E2E_ROOT/test/k8s/testenv.sh" cache s3s_dir
    cache=${VMAFX_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmafx-testenv}
    s3s_dir="$cache/s3s-fs-$S3S_FS_VERSION"
    # s3s-fs: the S3 server crates/vmafx-fetch's tests embed, built once into the tool cache.
    if [[ ! -f $s3s_dir/.complete ]]; then
        step "building s3s-fs $S3S_FS_VERSION (cargo install, static; cached in $s3s_dir)"
        rm -rf "$s3s_dir" "$E2E_WORK/s3s-target"
        RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR="$E2E_WORK/s3s-target" \
            nice -n 10 cargo install s3s-fs --version "$S3S_FS_VERSION" --features binary --locked \
            --target "$(rustc -vV | sed -n 's/^host: //p')" --root "$s3s_dir" >"$E2E_WORK/s3s-build.log" 2>&1 ||
            { tail -n 20 "$E2E_WORK/s3s-build.log" >&2; die "building s3s-fs failed"; }
        rm -rf "$E2E_WORK/s3s-target"
        date -u +%Y-%m-%dT%H:%M:%SZ >"$s3s_dir/.complete"
    fi
    step "building the images (vmafx from $VMAFX_BIN, e2e-s3)"
    "$E2E_ROOT/scripts/build-image.sh" --binary "$VMAFX_BIN" --layout "$E2E_WORK/vmafx-oci" \
        --archive "$E2E_WORK/vmafx.tar" >/dev/null 2>"$E2E_WORK/build-image.log" ||
        { cat "$E2E_WORK/build-image.log" >&2; die "scripts/build-image.sh failed"; }
    rm -rf "$E2E_WORK/s3-rootfs"
    mkdir -p "$E2E_WORK/s3-rootfs/data/e2e"
    cp "$s3s_dir/bin/s3s-fs" "$E2E_WORK/s3-rootfs/s3s-fs"
    cp "$E2E_HERE/fixtures/tiny-ref.y4m" "$E2E_HERE/fixtures/tiny-dist.y4m" "$E2E_WORK/s3-rootfs/data/e2e/"
    # Writable by the server (it runs as 65532): the operator suite uploads clips, and pod-mode
    # jobs write their per-frame results here.
    chmod -R a+rwX "$E2E_WORK/s3-rootfs/data"
    "$testenv" pack-image "$E2E_WORK/s3-rootfs" vmafx.local/e2e-s3:1 '["/s3s-fs"]' 65532:65532 "$E2E_WORK/e2e-s3.tar"
    # The registry of case 05: the binary testenv.sh builds (static), HTTPS with the certificate
    # mounted at /certs (manifests/registry.yaml), blobs on an emptyDir.
    rm -rf "$E2E_WORK/registry-rootfs"
    mkdir -p "$E2E_WORK/registry-rootfs/etc/registry" "$E2E_WORK/registry-rootfs/var/lib/registry"
    cp "$("$testenv" bin-dir registry)/registry" "$E2E_WORK/registry-rootfs/registry"
    printf 'version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/registry\nhttp:\n  addr: 0.0.0.0:5000\n  tls:\n    certificate: /certs/tls.crt\n    key: /certs/tls.key\n' \
        >"$E2E_WORK/registry-rootfs/etc/registry/config.yml"
    "$testenv" pack-image "$E2E_WORK/registry-rootfs" vmafx.local/e2e-registry:1 \
        '["/registry", "serve", "/etc/registry/config.yml"]' 65532:65532 "$E2E_WORK/e2e-registry.tar"
}

# e2e_registry_pki: a throwaway CA and a certificate for the registry's Service names, in
# $E2E_WORK/registry-pki; the CA is what case 05's trainer and checks trust.
e2e_registry_pki() {
    local pki="$E2E_WORK/registry-pki" names
    rm -rf "$pki"
    mkdir -p "$pki"
    names="DNS:e2e-registry,DNS:e2e-registry.vmafx-system,DNS:e2e-registry.vmafx-system.svc,DNS:e2e-registry.vmafx-system.svc.cluster.local"
    (
        umask 077
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
            -subj "/CN=vmafx e2e registry CA" -addext "basicConstraints=critical,CA:true" \
            -addext "keyUsage=critical,keyCertSign" -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=e2e-registry" \
            -keyout "$pki/tls.key" -out "$pki/tls.csr" 2>/dev/null
        openssl x509 -req -in "$pki/tls.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -days 2 \
            -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$names") \
            -out "$pki/tls.crt" 2>/dev/null
    ) || die "openssl failed to make the registry's certificates"
    chmod 644 "$pki/ca.crt"
}

# e2e_install: namespace vmafx-system, random S3 credentials (and the rclone.conf naming them),
# the S3 server, then the chart (CRDs included) with values-e2e.yaml.
e2e_install() {
    step "installing the S3 server and the chart"
    kubectl create namespace vmafx-system >/dev/null
    local key secret
    key=$(openssl rand -hex 12)
    secret=$(openssl rand -hex 24)
    kubectl -n vmafx-system create secret generic e2e-s3 --from-literal=access-key="$key" \
        --from-literal=secret-key="$secret" >/dev/null
    (
        umask 077
        printf '[incluster]\ntype = s3\nprovider = Other\naccess_key_id = %s\nsecret_access_key = %s\nendpoint = http://e2e-s3.vmafx-system.svc.cluster.local:9000\nregion = us-east-1\n' \
            "$key" "$secret" >"$E2E_WORK/rclone.conf"
    )
    kubectl -n vmafx-system create secret generic e2e-rclone --from-file=rclone.conf="$E2E_WORK/rclone.conf" >/dev/null
    rm -f "$E2E_WORK/rclone.conf"
    kubectl apply -f "$E2E_HERE/manifests/s3.yaml" >/dev/null
    e2e_registry_pki
    kubectl -n vmafx-system create secret tls e2e-registry-tls --cert="$E2E_WORK/registry-pki/tls.crt" \
        --key="$E2E_WORK/registry-pki/tls.key" >/dev/null
    kubectl -n vmafx-system create secret generic e2e-registry-ca \
        --from-file=ca.crt="$E2E_WORK/registry-pki/ca.crt" >/dev/null
    export E2E_REGISTRY_CA="$E2E_WORK/registry-pki/ca.crt"
    kubectl apply -f "$E2E_HERE/manifests/registry.yaml" >/dev/null
    helm install vmafx "$E2E_ROOT/deploy/helm/vmafx" --namespace vmafx-system \
        --values "$E2E_HERE/values-e2e.yaml" "$@" >"$E2E_WORK/helm-install.log" 2>&1 ||
        { cat "$E2E_WORK/helm-install.log" >&2; die "helm install failed"; }
    kubectl -n vmafx-system rollout status deployment/e2e-s3 --timeout=180s >&2 ||
        die "the S3 server did not start"
    kubectl -n vmafx-system rollout status deployment/e2e-registry --timeout=180s >&2 ||
        die "the registry did not start"
}

# e2e_collect NAME: cluster state and every Pod's log into $E2E_ARTIFACTS/NAME.
e2e_collect() {
    local name=$1 dir="$E2E_ARTIFACTS/$1" ns pod
    mkdir -p "$dir"
    kubectl get nodes,all,vmafxjobs,vmafxnodes -A -o wide >"$dir/objects.txt" 2>&1 || true
    kubectl get events -A --sort-by=.lastTimestamp >"$dir/events.txt" 2>&1 || true
    kubectl get vmafxjobs,vmafxnodes -A -o yaml >"$dir/vmafx.yaml" 2>&1 || true
    kubectl describe nodes >"$dir/nodes.txt" 2>&1 || true
    kubectl describe pods -A >"$dir/pods.txt" 2>&1 || true
    kubectl get pods -A -o jsonpath='{range .items[*]}{.metadata.namespace} {.metadata.name}{"\n"}{end}' 2>/dev/null |
        while read -r ns pod; do
            kubectl -n "$ns" logs "$pod" --all-containers --tail=300 >"$dir/log-$ns-$pod.txt" 2>&1 || true
        done
    say "artifacts of $name in $dir"
}

# e2e_cases [CASE...]: run each case of cases/ (default: all) with kuttl, one at a time; a case
# holding a PENDING file is listed, not run. Prints `e2e: N passed, M failed`; fails if M > 0.
e2e_cases() {
    local cases=("$@") c passed=0 failed=0 failed_names=() pending=() case_start
    export E2E_DIR=$E2E_HERE E2E_ROOT E2E_NODE_NAME VMAFX_BIN
    if [[ ${#cases[@]} == 0 ]]; then
        for c in "$E2E_HERE"/cases/*/; do cases+=("$(basename "$c")"); done
    fi
    for c in "${cases[@]}"; do
        [[ -d $E2E_HERE/cases/$c ]] || die "no case $c in $E2E_HERE/cases"
        if [[ -f $E2E_HERE/cases/$c/PENDING ]]; then
            pending+=("$c")
            continue
        fi
        step "case $c"
        case_start=$(date +%s)
        # From the work dir: kuttl writes a kubeconfig into its working directory.
        if (cd "$E2E_WORK" && kubectl-kuttl test "$E2E_HERE/cases" --config "$E2E_HERE/kuttl-test.yaml" --test "$c") \
            >"$E2E_WORK/kuttl-$c.log" 2>&1; then
            passed=$((passed + 1))
            # What the case's steps ran and printed (the Pods, their image, the scores).
            grep -F "| $c/" "$E2E_WORK/kuttl-$c.log" | sed -E 's/^.*logger\.go:[0-9]+: /    /' >&2 || true
            say "PASS $c ($(($(date +%s) - case_start))s)"
        else
            failed=$((failed + 1))
            failed_names+=("$c")
            tail -n 60 "$E2E_WORK/kuttl-$c.log" >&2
            say "FAIL $c ($(($(date +%s) - case_start))s)"
            e2e_collect "$c"
            cp "$E2E_WORK/kuttl-$c.log" "$E2E_ARTIFACTS/$c/"
        fi
    done
    for c in "${pending[@]}"; do
        say "pending (not run, not counted as passed) $c: $(head -n 1 "$E2E_HERE/cases/$c/PENDING" | cut -d: -f2- | sed 's/^ //')"
    done
    [[ $failed == 0 ]] || say "failed: ${failed_names[*]} (artifacts in $E2E_ARTIFACTS)"
    say "kuttl logs in $E2E_WORK; total $(($(date +%s) - E2E_T0))s"
    echo "e2e: $passed passed, $failed failed"
    [[ $failed == 0 ]]
}
