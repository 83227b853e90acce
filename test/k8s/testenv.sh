#!/usr/bin/env bash
# testenv.sh — a real Kubernetes control plane (etcd + kube-apiserver) for tests, built from
# source through the Go module proxy, and on demand a real node (--with-node). No Docker.
#
#   testenv.sh build [TOOL...]  build the pinned tools (default: all but the node's, so the OCI
#                               registry and crane included; `build kubernetes-node coredns` adds
#                               what --with-node needs) into ~/.cache/vmafx-testenv (no-op when cached)
#   testenv.sh up [STATE_DIR]   start etcd + kube-apiserver on 127.0.0.1 (free ports); the LAST line
#                               printed is the admin kubeconfig path
#   testenv.sh up --with-node [--image ARCHIVE]... [STATE_DIR]
#                               the same, plus a real node that runs Pods (root only; see node.sh):
#                               kubelet, containerd + runc, CNI bridge, kube-proxy, kube-scheduler,
#                               kube-controller-manager, CoreDNS; the API server then listens on
#                               the test bridge address 10.218.0.1; each ARCHIVE (an OCI archive,
#                               e.g. from scripts/build-image.sh --archive) is imported
#   testenv.sh import-image ARCHIVE... [--state STATE_DIR]  import images into a running node
#   testenv.sh pack-image ROOTFS NAME ENTRYPOINT_JSON USER OUT
#                               pack directory ROOTFS as the one layer of image NAME (an OCI
#                               archive OUT), e.g. a static test server for the node
#   testenv.sh down [STATE_DIR] stop that environment (its node included) and remove STATE_DIR
#   testenv.sh bin-dir TOOL     print the directory holding TOOL's cached binaries
#   testenv.sh versions         print the pinned versions
#
# Environment:
#   VMAFX_TESTENV_CACHE   binary cache root      (default: ${XDG_CACHE_HOME:-~/.cache}/vmafx-testenv)
#   VMAFX_TESTENV_STATE   state dir for up/down  (default: ${TMPDIR:-/tmp}/vmafx-testenv)
#   VMAFX_TESTENV_BUILD_JOBS  value for `go build -p` (default: number of CPUs)
#   VMAFX_TESTENV_OWNER_PID   `up` leaves a watchdog that runs `down` once this process exits
#   VMAFX_TESTENV_UP_TIMEOUT  seconds `up` waits for the API server to be ready (default: 90)
#   VMAFX_TESTENV_NODE_TIMEOUT  seconds `up --with-node` waits for the node to be Ready (default: 120)
set -euo pipefail

# ---- pinned versions ------------------------------------------------------------------------
KUBERNETES_VERSION=v1.37.2 # kube-apiserver, kubectl (k8s.io/kubernetes)
ETCD_VERSION=v3.7.3        # go.etcd.io/etcd/server/v3
HELM_VERSION=v4.3.1        # helm.sh/helm/v4
KWOK_VERSION=v0.8.0        # sigs.k8s.io/kwok
KUTTL_VERSION=v0.25.0      # github.com/kudobuilder/kuttl (kubectl-kuttl)
REGISTRY_VERSION=v3.1.2    # github.com/distribution/distribution/v3 (registry: a real OCI registry)
CRANE_VERSION=v0.22.1      # github.com/google/go-containerregistry (crane: pushes and reads images)
COREDNS_VERSION=v1.15.0    # github.com/coredns/coredns (cluster DNS for `up --with-node`)

KNOWN_TOOLS="kubernetes, kubernetes-node, etcd, helm, kwok, kuttl, registry, crane, coredns"

CACHE_ROOT="${VMAFX_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmafx-testenv}"

die() {
    echo "testenv.sh: error: $*" >&2
    exit 1
}
log() { echo "testenv.sh: $*" >&2; }

# shellcheck source=node.sh
source "$(dirname "${BASH_SOURCE[0]}")/node.sh"

# Directory (per tool and version) that holds a tool's binaries once built.
tool_dir() {
    case "$1" in
        kubernetes | kube-apiserver | kubectl) echo "$CACHE_ROOT/kubernetes-$KUBERNETES_VERSION" ;;
        kubernetes-node | kubelet | kube-scheduler | kube-controller-manager | kube-proxy)
            echo "$CACHE_ROOT/kubernetes-node-$KUBERNETES_VERSION" ;;
        etcd) echo "$CACHE_ROOT/etcd-$ETCD_VERSION" ;;
        helm) echo "$CACHE_ROOT/helm-$HELM_VERSION" ;;
        kwok) echo "$CACHE_ROOT/kwok-$KWOK_VERSION" ;;
        kuttl | kubectl-kuttl) echo "$CACHE_ROOT/kuttl-$KUTTL_VERSION" ;;
        registry) echo "$CACHE_ROOT/registry-$REGISTRY_VERSION" ;;
        crane) echo "$CACHE_ROOT/crane-$CRANE_VERSION" ;;
        coredns) echo "$CACHE_ROOT/coredns-$COREDNS_VERSION" ;;
        *) die "unknown tool '$1' (known: $KNOWN_TOOLS)" ;;
    esac
}

# ---- build ----------------------------------------------------------------------------------
go_env() {
    command -v go >/dev/null || die "go not found on PATH (Go >= 1.26 is required to build the test tools)"
    local gv
    gv=$(go env GOVERSION)
    gv=${gv#go}
    if [[ ${gv%%.*} -lt 1 ]] || { [[ ${gv%%.*} -eq 1 ]] && [[ $(cut -d. -f2 <<<"$gv") -lt 26 ]]; }; then
        die "go $gv is too old: kubernetes $KUBERNETES_VERSION, etcd $ETCD_VERSION and helm $HELM_VERSION need Go >= 1.26"
    fi
    export GOTOOLCHAIN=local GOFLAGS="-buildvcs=false -trimpath" CGO_ENABLED=0
    export GOPROXY="${GOPROXY:-https://proxy.golang.org,direct}"
}

jobs_flag() { echo "-p=${VMAFX_TESTENV_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}"; }

# Sets CHILD_CPU to the CPU seconds (user + system) used so far by this shell's finished
# children. `times` must run in this shell, not in a $(...) subshell, to see them.
children_cpu() {
    local f
    f=$(mktemp)
    times >"$f"
    CHILD_CPU=$(awk 'NR == 2 {
        t = 0
        for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); t += a[1] * 60 + a[2] }
        printf "%d\n", t
    }' "$f")
    rm -f "$f"
}

# build_one NAME VERSION FUNC: run FUNC OUTDIR in a scratch dir unless the cache entry exists.
build_one() {
    local name=$1 version=$2 fn=$3 final
    final="$CACHE_ROOT/$name-$version"
    if [[ -f "$final/.complete" ]]; then
        log "$name $version: cached in $final"
        return 0
    fi
    local work start secs cpu0 cpu
    mkdir -p "$CACHE_ROOT"
    work=$(mktemp -d "$CACHE_ROOT/.build-$name-XXXXXX")
    start=$(date +%s)
    children_cpu
    cpu0=$CHILD_CPU
    log "$name $version: building (cold builds take minutes)..."
    if ! (cd "$work" && "$fn" "$work/out" >"$work/build.log" 2>&1); then
        tail -n 30 "$work/build.log" >&2 || true
        rm -rf "$work"
        die "building $name $version failed (log above)"
    fi
    secs=$(($(date +%s) - start))
    children_cpu
    cpu=$((CHILD_CPU - cpu0))
    printf 'wall_seconds=%s\ncpu_seconds=%s\ncpus=%s\n' "$secs" "$cpu" "$(nproc 2>/dev/null || echo '?')" \
        >"$work/out/.build-time"
    date -u +%Y-%m-%dT%H:%M:%SZ >"$work/out/.complete"
    rm -rf "$final"
    mv "$work/out" "$final"
    rm -rf "$work"
    log "$name $version: built in ${secs}s (${cpu} CPU-seconds) -> $final"
}

# Kubernetes can only be built from a wrapper module: k8s.io/kubernetes' own go.mod replaces every
# staging module (k8s.io/api, ...) by a local path, which `go install pkg@version` refuses. The
# wrapper requires k8s.io/kubernetes and replaces each staging module by its published v0.X.Y.
# build_k8s_cmds OUT CMD...: build k8s.io/kubernetes/cmd/CMD for each CMD into OUT/bin.
build_k8s_cmds() {
    local out=$1 v=$KUBERNETES_VERSION staging_v major minor modfile c
    shift
    staging_v="v0.${v#v1.}"
    major=${v#v}
    major=${major%%.*}
    minor=${v#v*.}
    minor=${minor%%.*}
    modfile=$(go mod download -json "k8s.io/kubernetes@$v" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
    [[ -f "$modfile" ]] || die "could not download go.mod of k8s.io/kubernetes@$v"
    {
        echo "module vmafx.local/k8s-wrapper"
        echo
        echo "go 1.26"
        echo
        echo "require k8s.io/kubernetes $v"
        echo
        echo "replace ("
        # every staging module that k8s.io/kubernetes requires at the v0.0.0 placeholder
        awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" { print $1 }' "$modfile" | sort -u |
            while read -r m; do echo "	$m => $m $staging_v"; done
        echo ")"
    } >go.mod
    {
        printf '//go:build tools\n\npackage tools\n\nimport (\n'
        for c in "$@"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"; done
        printf ')\n'
    } >tools.go
    go mod tidy
    local ld="-s -w" pkgs=()
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ld+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
        ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
    done
    for c in "$@"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
    mkdir -p "$out/bin"
    go build "$(jobs_flag)" -ldflags "$ld" -o "$out/bin/" "${pkgs[@]}"
}
build_kubernetes() { build_k8s_cmds "$1" kube-apiserver kubectl; }
# What a node and the controllers that give it work need, from the same source (`up --with-node`).
build_kubernetes_node() { build_k8s_cmds "$1" kubelet kube-scheduler kube-controller-manager kube-proxy; }

# build_wrapped OUT MODULE VERSION PKG BINARY [LDFLAGS]: build main package PKG of MODULE@VERSION
# from a wrapper module that requires it (which ignores the module's own `replace` directives).
build_wrapped() {
    local out=$1 module=$2 version=$3 pkg=$4 binary=$5 ldflags=${6:-}
    printf 'module vmafx.local/wrapper\n\ngo 1.26\n\nrequire %s %s\n' "$module" "$version" >go.mod
    printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" >tools.go
    go mod tidy
    mkdir -p "$out/bin"
    go build "$(jobs_flag)" -ldflags "-s -w $ldflags" -o "$out/bin/$binary" "$pkg"
}

# etcd's server module carries local `replace` directives, so it needs a wrapper as well.
build_etcd() {
    build_wrapped "$1" go.etcd.io/etcd/server/v3 "$ETCD_VERSION" go.etcd.io/etcd/server/v3 etcd
}

go_install() {
    local out=$1 pkg=$2
    mkdir -p "$out/bin"
    GOBIN="$out/bin" go install "$(jobs_flag)" -ldflags "-s -w" "$pkg"
}
build_helm() {
    local out=$1
    mkdir -p "$out/bin"
    GOBIN="$out/bin" go install "$(jobs_flag)" \
        -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
        "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
}

# kwok does nothing without Stage definitions: keep the upstream "fast" node and pod stages (nodes
# become Ready with lease heartbeats, pods bound to them become Running) next to the binary, for
# `kwok --kubeconfig=... --config=<dir>/stages-fast.yaml --manage-all-nodes=true`.
build_kwok() {
    local out=$1 src f
    go_install "$out" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
    src=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
    [[ -d $src/kustomize/stage ]] || die "kwok stage definitions not found in $src"
    for f in "$src"/kustomize/stage/node/fast/*.yaml "$src"/kustomize/stage/node/heartbeat-with-lease/*.yaml \
        "$src"/kustomize/stage/pod/fast/*.yaml; do
        [[ $(basename "$f") == kustomization.yaml ]] && continue
        echo "---"
        cat "$f"
    done >"$out/stages-fast.yaml"
}
# `go install kuttl@version` also asks the proxy for the module's version list (to look for a
# deprecation notice); a proxy that refuses that list (403) fails the install, a wrapper does not.
build_kuttl() {
    build_wrapped "$1" github.com/kudobuilder/kuttl "$KUTTL_VERSION" \
        github.com/kudobuilder/kuttl/cmd/kubectl-kuttl kubectl-kuttl \
        "-X github.com/kudobuilder/kuttl/internal/version.gitVersion=$KUTTL_VERSION"
}
build_registry() {
    build_wrapped "$1" github.com/distribution/distribution/v3 "$REGISTRY_VERSION" \
        github.com/distribution/distribution/v3/cmd/registry registry \
        "-X github.com/distribution/distribution/v3/version.version=$REGISTRY_VERSION"
}
build_crane() {
    go_install "$1" "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION"
}
# CoreDNS with only the plugins the node's cluster DNS uses: bind (listen on the test bridge
# only), errors, cache and kubernetes (Service and Pod records). No health/ready/metrics plugin,
# so it opens no other port. Plugins register themselves when imported; Directives sets their
# order, as CoreDNS's generated zdirectives.go would.
build_coredns() {
    local out=$1
    printf 'module vmafx.local/coredns\n\ngo 1.26\n\nrequire github.com/coredns/coredns %s\n' \
        "$COREDNS_VERSION" >go.mod
    cat >main.go <<'EOF'
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/kubernetes"
)

func init() {
	dnsserver.Directives = []string{"bind", "errors", "cache", "kubernetes"}
}

func main() { coremain.Run() }
EOF
    go mod tidy
    mkdir -p "$out/bin"
    go build "$(jobs_flag)" -ldflags "-s -w" -o "$out/bin/coredns" .
}

cmd_build() {
    local tools=("$@")
    # kwok is left out: no test uses it since the real node of `up --with-node`; build it by name.
    [[ ${#tools[@]} -gt 0 ]] || tools=(kubernetes etcd helm kuttl registry crane)
    local start t
    start=$(date +%s)
    for t in "${tools[@]}"; do
        case "$t" in
            kubernetes) ;; kubernetes-node) ;; etcd) ;; helm) ;; kwok) ;; kuttl) ;; registry) ;; crane) ;;
            coredns) ;;
            *) die "unknown tool '$t' (known: $KNOWN_TOOLS)" ;;
        esac
    done
    local need=0
    for t in "${tools[@]}"; do [[ -f "$(tool_dir "$t")/.complete" ]] || need=1; done
    if [[ $need == 1 ]]; then
        go_env
        # One build at a time per cache; a second `build` waits, then finds the tools cached.
        mkdir -p "$CACHE_ROOT"
        exec 9>"$CACHE_ROOT/.build.lock"
        if command -v flock >/dev/null && ! flock -n 9; then
            log "another build holds $CACHE_ROOT/.build.lock; waiting"
            flock 9
        fi
    fi
    for t in "${tools[@]}"; do
        case "$t" in
            kubernetes) build_one kubernetes "$KUBERNETES_VERSION" build_kubernetes ;;
            kubernetes-node) build_one kubernetes-node "$KUBERNETES_VERSION" build_kubernetes_node ;;
            etcd) build_one etcd "$ETCD_VERSION" build_etcd ;;
            helm) build_one helm "$HELM_VERSION" build_helm ;;
            kwok) build_one kwok "$KWOK_VERSION" build_kwok ;;
            kuttl) build_one kuttl "$KUTTL_VERSION" build_kuttl ;;
            registry) build_one registry "$REGISTRY_VERSION" build_registry ;;
            crane) build_one crane "$CRANE_VERSION" build_crane ;;
            coredns) build_one coredns "$COREDNS_VERSION" build_coredns ;;
        esac
    done
    log "build done in $(($(date +%s) - start))s"
}

# ---- up / down ------------------------------------------------------------------------------
STATE_DEFAULT="${VMAFX_TESTENV_STATE:-${TMPDIR:-/tmp}/vmafx-testenv}"

# Ports in LISTEN state on this machine (IPv4 and IPv6), decimal, one per line.
listening_ports() {
    local f h
    for f in /proc/net/tcp /proc/net/tcp6; do
        [[ -r $f ]] || continue
        while read -r h; do echo $((16#$h)); done < <(awk 'NR > 1 && $4 == "0A" { n = split($2, a, ":"); print a[n] }' "$f")
    done
}

# free_ports N: print N distinct ports nothing listens on, below Linux's ephemeral range.
free_ports() {
    local n=$1 used picked=() p i
    used=" $(listening_ports | tr '\n' ' ') "
    for ((i = 0; ${#picked[@]} < n && i < 1000; i++)); do
        p=$((20000 + RANDOM % 12000))
        [[ $used == *" $p "* || " ${picked[*]} " == *" $p "* ]] && continue
        picked+=("$p")
    done
    [[ ${#picked[@]} -eq $n ]] || die "could not find $n free TCP ports on 127.0.0.1"
    echo "${picked[@]}"
}

# client_cert NAME SUBJECT: NAME.key and NAME.crt, a client certificate for SUBJECT signed by the
# CA in the current directory.
client_cert() {
    openssl ecparam -name prime256v1 -genkey -noout -out "$1.key"
    openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=clientAuth" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
        -sha256 -extfile "$1.ext" -out "$1.crt"
}

gen_certs() {
    local d=$1
    command -v openssl >/dev/null || die "openssl not found on PATH (needed to generate certificates)"
    (
        cd "$d"
        umask 077
        # CA
        openssl ecparam -name prime256v1 -genkey -noout -out ca.key
        openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=vmafx-testenv-ca" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" -out ca.crt
        # kube-apiserver serving certificate
        openssl ecparam -name prime256v1 -genkey -noout -out apiserver.key
        openssl req -new -key apiserver.key -subj "/CN=kube-apiserver" -out apiserver.csr
        printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
            "extendedKeyUsage=serverAuth" \
            "subjectAltName=IP:127.0.0.1,IP:::1,IP:10.0.0.1,IP:$NODE_ADDR,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local" \
            >apiserver.ext
        openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
            -sha256 -extfile apiserver.ext -out apiserver.crt
        # admin client certificate (group system:masters)
        client_cert admin "/O=system:masters/CN=vmafx-admin"
        # service-account token signing key pair
        openssl ecparam -name prime256v1 -genkey -noout -out sa.key
        openssl ec -in sa.key -pubout -out sa.pub
        rm -f ./*.csr ./*.ext ca.srl
    ) >"$d/../openssl.log" 2>&1 || die "certificate generation failed (see $d/../openssl.log)"
}

write_kubeconfig() {
    local d=$1 port=$2
    {
        echo "apiVersion: v1"
        echo "kind: Config"
        echo "clusters:"
        echo "- name: vmafx-testenv"
        echo "  cluster:"
        echo "    server: https://$API_ADDR:$port"
        echo "    certificate-authority-data: $(base64 -w0 <"$d/pki/ca.crt")"
        echo "users:"
        echo "- name: vmafx-admin"
        echo "  user:"
        echo "    client-certificate-data: $(base64 -w0 <"$d/pki/admin.crt")"
        echo "    client-key-data: $(base64 -w0 <"$d/pki/admin.key")"
        echo "contexts:"
        echo "- name: vmafx-testenv"
        echo "  context:"
        echo "    cluster: vmafx-testenv"
        echo "    user: vmafx-admin"
        echo "    namespace: default"
        echo "current-context: vmafx-testenv"
    } >"$d/kubeconfig"
    chmod 600 "$d/kubeconfig"
}

# alive PIDFILE: true while the process recorded in PIDFILE runs.
alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# start_detached DIR NAME CMD...: start CMD in its own session with no inherited fds (so callers
# reading our stdout see EOF), log to DIR/NAME.log, record its pid in DIR/NAME.pid.
start_detached() {
    local d=$1 name=$2
    shift 2
    setsid "$@" </dev/null >"$d/$name.log" 2>&1 &
    echo $! >"$d/$name.pid"
}

# try_up DIR ETCD_BIN K8S_BIN: 0 ready, 1 timed out, 2 a server died (e.g. lost a port race).
try_up() {
    local d=$1 etcd_bin=$2 k8s_bin=$3 etcd_port peer_port api_port
    read -r etcd_port peer_port api_port <<<"$(free_ports 3)"
    rm -rf "$d/etcd-data"
    start_detached "$d" etcd "$etcd_bin/etcd" --name=vmafx --data-dir="$d/etcd-data" \
        --listen-client-urls="http://127.0.0.1:$etcd_port" \
        --advertise-client-urls="http://127.0.0.1:$etcd_port" \
        --listen-peer-urls="http://127.0.0.1:$peer_port" \
        --initial-advertise-peer-urls="http://127.0.0.1:$peer_port" \
        --initial-cluster="vmafx=http://127.0.0.1:$peer_port" \
        --unsafe-no-fsync --log-level=warn
    start_detached "$d" kube-apiserver "$k8s_bin/kube-apiserver" \
        --bind-address="$API_ADDR" --advertise-address="$API_ADDR" --secure-port="$api_port" \
        --etcd-servers="http://127.0.0.1:$etcd_port" \
        --cert-dir="$d/pki" \
        --tls-cert-file="$d/pki/apiserver.crt" --tls-private-key-file="$d/pki/apiserver.key" \
        --client-ca-file="$d/pki/ca.crt" \
        --service-account-issuer=https://kubernetes.default.svc.cluster.local \
        --service-account-key-file="$d/pki/sa.pub" \
        --service-account-signing-key-file="$d/pki/sa.key" \
        --api-audiences=https://kubernetes.default.svc.cluster.local \
        --service-cluster-ip-range=10.0.0.0/24 \
        --authorization-mode=Node,RBAC \
        --allow-privileged=true \
        --endpoint-reconciler-type="$ENDPOINT_RECONCILER" \
        --kubelet-client-certificate="$d/pki/admin.crt" --kubelet-client-key="$d/pki/admin.key" \
        --kubelet-preferred-address-types=InternalIP,Hostname \
        --profiling=false
    write_kubeconfig "$d" "$api_port"
    printf 'ETCD_PORT=%s\nETCD_PEER_PORT=%s\nAPISERVER_PORT=%s\nKUBECONFIG=%s\n' \
        "$etcd_port" "$peer_port" "$api_port" "$d/kubeconfig" >"$d/env"

    local kubectl=("$k8s_bin/kubectl" --kubeconfig="$d/kubeconfig" --request-timeout=5s) deadline
    deadline=$(($(date +%s) + ${VMAFX_TESTENV_UP_TIMEOUT:-90}))
    while :; do
        if ! alive "$d/etcd.pid" || ! alive "$d/kube-apiserver.pid"; then
            return 2
        fi
        if [[ "$("${kubectl[@]}" get --raw=/readyz 2>/dev/null)" == ok ]] &&
            "${kubectl[@]}" get namespace default >/dev/null 2>&1; then
            return 0
        fi
        (($(date +%s) < deadline)) || return 1
        sleep 0.3
    done
}

# stop_pidfiles FILE...: TERM the recorded processes together, KILL what is left after 2 s (the
# state is thrown away, so a graceful shutdown buys nothing), remove the files.
stop_pidfiles() {
    local f pid pids=() i
    for f in "$@"; do
        [[ -f $f ]] || continue
        pid=$(cat "$f")
        if [[ -n $pid && $pid != "$$" ]] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
    done
    local left=${#pids[@]}
    for ((i = 0; i < 20 && left > 0; i++)); do
        sleep 0.1
        left=0
        for pid in "${pids[@]}"; do
            if kill -0 "$pid" 2>/dev/null; then left=$((left + 1)); fi
        done
    done
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    rm -f "$@"
}

# Where the API server listens: loopback, or with a node the test bridge, which Pods reach (and
# the `kubernetes` Service's endpoint, kept by the lease reconciler, points at).
API_ADDR=127.0.0.1
ENDPOINT_RECONCILER=none

cmd_up() {
    local with_node=0 images=() d="" etcd_bin k8s_bin start
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --with-node) with_node=1; shift ;;
            --image) images+=("${2:?--image needs an OCI archive}"); shift 2 ;;
            -*) die "up: unknown option '$1'" ;;
            *) [[ -z $d ]] || die "up: one state dir only"; d=$1; shift ;;
        esac
    done
    [[ ${#images[@]} == 0 || $with_node == 1 ]] || die "up: --image needs --with-node"
    d=${d:-$STATE_DEFAULT}
    start=$(date +%s)
    etcd_bin="$(tool_dir etcd)/bin"
    k8s_bin="$(tool_dir kubernetes)/bin"
    [[ -x $etcd_bin/etcd && -x $k8s_bin/kube-apiserver && -x $k8s_bin/kubectl ]] ||
        die "etcd $ETCD_VERSION / kubernetes $KUBERNETES_VERSION are not built; run: $0 build"
    if alive "$d/kube-apiserver.pid" || alive "$d/etcd.pid"; then
        die "an environment is already running in $d; run '$0 down $d' or pick another state dir"
    fi
    mkdir -p "$d/pki"
    d=$(cd "$d" && pwd)
    if [[ $with_node == 1 ]]; then
        node_require
        # A failed start leaves nothing running on the machine, but keeps the logs in $d.
        # shellcheck disable=SC2064 # $d is fixed now
        trap "[[ \$? == 0 ]] || { stop_pidfiles '$d/watchdog.pid'; node_down '$d'; stop_pidfiles '$d/kube-apiserver.pid' '$d/etcd.pid'; log 'up failed: stopped everything; logs kept in $d'; }" EXIT
        node_net_up "$d"
        API_ADDR=$NODE_ADDR
        ENDPOINT_RECONCILER=lease
    fi
    gen_certs "$d/pki"

    local attempt rc=0
    for attempt in 1 2 3; do
        rc=0
        try_up "$d" "$etcd_bin" "$k8s_bin" || rc=$?
        [[ $rc == 0 ]] && break
        stop_pidfiles "$d/kube-apiserver.pid" "$d/etcd.pid"
        if [[ $rc == 1 ]]; then
            tail -n 20 "$d/kube-apiserver.log" >&2 || true
            die "kube-apiserver was not ready within ${VMAFX_TESTENV_UP_TIMEOUT:-90}s (logs in $d)"
        fi
        log "a server exited during start-up (attempt $attempt); retrying on other ports"
    done
    if [[ $rc != 0 ]]; then
        tail -n 10 "$d/etcd.log" "$d/kube-apiserver.log" >&2 || true
        die "etcd or kube-apiserver exited during start-up (logs in $d)"
    fi
    if [[ $with_node == 1 ]]; then
        node_up "$d"
        [[ ${#images[@]} == 0 ]] || node_import "$d" "${images[@]}"
    fi

    # With VMAFX_TESTENV_OWNER_PID set, tear down by itself once that process is gone, so a killed
    # test run does not leak servers.
    if [[ -n ${VMAFX_TESTENV_OWNER_PID:-} ]]; then
        local self
        self="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
        # shellcheck disable=SC2016 # expanded by the inner bash
        start_detached "$d" watchdog bash -c \
            'while kill -0 "$1" 2>/dev/null && [[ -d $3 ]]; do sleep 1; done; if [[ -d $3 ]]; then exec "$2" down "$3"; fi' \
            watchdog "$VMAFX_TESTENV_OWNER_PID" "$self" "$d"
    fi
    log "up in $(($(date +%s) - start))s: kube-apiserver at https://$API_ADDR:$(sed -n 's/^APISERVER_PORT=//p' "$d/env"), state in $d"
    echo "$d/kubeconfig"
}

cmd_down() {
    local d=${1:-$STATE_DEFAULT}
    if [[ ! -d $d ]]; then
        log "nothing to stop: $d does not exist"
        return 0
    fi
    stop_pidfiles "$d/watchdog.pid"
    node_down "$d"
    stop_pidfiles "$d/kube-apiserver.pid" "$d/etcd.pid"
    rm -rf "$d"
    log "stopped and removed $d"
}

cmd_import_image() {
    local d=$STATE_DEFAULT archives=()
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --state) d=${2:?--state needs a directory}; shift 2 ;;
            *) archives+=("$1"); shift ;;
        esac
    done
    [[ ${#archives[@]} -gt 0 ]] || die "usage: testenv.sh import-image ARCHIVE... [--state STATE_DIR]"
    alive "$d/containerd.pid" || die "no node runs in $d (testenv.sh up --with-node)"
    node_import "$d" "${archives[@]}"
}

cmd_versions() {
    printf 'kubernetes %s\netcd %s\nhelm %s\nkwok %s\nkuttl %s\nregistry %s\ncrane %s\ncoredns %s\n' \
        "$KUBERNETES_VERSION" "$ETCD_VERSION" "$HELM_VERSION" "$KWOK_VERSION" "$KUTTL_VERSION" \
        "$REGISTRY_VERSION" "$CRANE_VERSION" "$COREDNS_VERSION"
}

main() {
    local cmd=${1:-}
    [[ $# -gt 0 ]] && shift
    case "$cmd" in
        build) cmd_build "$@" ;;
        up) cmd_up "$@" ;;
        down) cmd_down "$@" ;;
        import-image) cmd_import_image "$@" ;;
        pack-image)
            [[ $# == 5 ]] || die "usage: testenv.sh pack-image ROOTFS NAME ENTRYPOINT_JSON USER OUT"
            oci_archive "$@" ;;
        bin-dir) echo "$(tool_dir "${1:?usage: testenv.sh bin-dir TOOL}")/bin" ;;
        versions) cmd_versions ;;
        *) die "usage: testenv.sh build [TOOL...] | up [--with-node [--image ARCHIVE]...] [STATE_DIR] | import-image ARCHIVE... [--state STATE_DIR] | down [STATE_DIR] | bin-dir TOOL | versions" ;;
    esac
}

main "$@"
