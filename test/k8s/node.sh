# node.sh — the real node of `testenv.sh up --with-node`, sourced by testenv.sh (not run alone).
#
# One node, "vmafx-node", on this machine: containerd + runc (Debian packages), the CNI bridge,
# host-local, loopback and portmap plugins (Debian's containernetworking-plugins) on the bridge
# vmafx0 (10.218.0.0/24), a kubelet, kube-proxy (iptables mode), kube-scheduler and
# kube-controller-manager built from the same Kubernetes source as the API server, CoreDNS (the
# cluster DNS, on the bridge address) and a pause image built here. No registry is used: images
# are imported into containerd (`testenv.sh import-image`).
#
# Listeners: the API server, kubelet, CoreDNS and NodePorts on the bridge address 10.218.0.1
# only (an INPUT rule drops packets for it arriving on any other interface); kube-proxy's health
# and metrics, containerd's stream server and the kubelet's healthz on 127.0.0.1; containerd on
# a unix socket in the state dir. kube-scheduler and kube-controller-manager serve nothing.
#
# Only one node environment runs on a machine at a time (the bridge, /run/netns and iptables are
# machine-wide); `down` removes everything `up` made: containers, mounts, network namespaces,
# iptables chains (VMAFX-TESTENV-INPUT, kube-proxy's, the CNI plugins'), the bridge, cgroups and
# processes, and restores net.ipv4.ip_forward.

NODE_NAME=vmafx-node
NODE_BRIDGE=vmafx0
NODE_ADDR=10.218.0.1
NODE_POD_CIDR=10.218.0.0/24
NODE_CNI_NETWORK=vmafx-testenv
NODE_OWNER_FILE=/run/vmafx-testenv-node.owner
PAUSE_IMAGE=vmafx.local/pause:1
CNI_BIN_DIR=${VMAFX_TESTENV_CNI_BIN:-/usr/lib/cni}

# The host packages a node needs; `node_require` installs what is missing with apt-get.
node_require() {
    [[ $(id -u) == 0 ]] || die "--with-node needs root (containerd, runc, network namespaces, iptables)"
    local missing=()
    command -v containerd >/dev/null || missing+=(containerd)
    command -v runc >/dev/null || missing+=(runc)
    [[ -x $CNI_BIN_DIR/bridge && -x $CNI_BIN_DIR/host-local && -x $CNI_BIN_DIR/loopback && -x $CNI_BIN_DIR/portmap ]] ||
        missing+=(containernetworking-plugins)
    command -v iptables >/dev/null || missing+=(iptables)
    command -v ip >/dev/null || missing+=(iproute2)
    if [[ ${#missing[@]} -gt 0 ]]; then
        command -v apt-get >/dev/null || die "missing packages: ${missing[*]} (and no apt-get to install them)"
        log "installing ${missing[*]} with apt-get"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
            die "apt-get install ${missing[*]} failed"
    fi
    local t
    for t in kubelet kube-proxy kube-scheduler kube-controller-manager; do
        [[ -x $(tool_dir kubernetes-node)/bin/$t ]] || die "$t is not built; run: $0 build kubernetes-node"
    done
    [[ -x $(tool_dir coredns)/bin/coredns ]] || die "coredns is not built; run: $0 build coredns"
}

# The pause image: a static Go program of ours (pause/pause.go) in a one-layer OCI archive, cached
# by the source's hash.
pause_archive() {
    local src sum dir
    src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/pause/pause.go"
    sum=$(sha256sum "$src" | cut -c1-16)
    dir="$CACHE_ROOT/pause-$sum"
    if [[ ! -f $dir/.complete ]]; then
        go_env
        rm -rf "$dir"
        mkdir -p "$dir/rootfs"
        (cd "$dir" && go build -ldflags "-s -w" -o rootfs/pause "$src") || die "building $src failed"
        oci_archive "$dir/rootfs" "$PAUSE_IMAGE" '["/pause"]' 65535:65535 "$dir/pause.tar"
        date -u +%Y-%m-%dT%H:%M:%SZ >"$dir/.complete"
    fi
    echo "$dir/pause.tar"
}

# oci_archive ROOTFS NAME ENTRYPOINT_JSON USER OUT: ROOTFS as the one layer of an OCI image
# NAME (repository:tag) in the OCI archive OUT, the form `ctr images import` reads.
oci_archive() {
    local rootfs=$1 name=$2 entrypoint=$3 user=$4 out=$5 w layer_sum diff_sum cfg_sum man_sum
    w=$(mktemp -d)
    mkdir -p "$w/blobs/sha256"
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$w/layer.tar" .
    diff_sum=$(sha256sum "$w/layer.tar" | cut -d' ' -f1)
    gzip -n "$w/layer.tar"
    layer_sum=$(sha256sum "$w/layer.tar.gz" | cut -d' ' -f1)
    printf '{"architecture":"%s","os":"linux","config":{"User":"%s","Entrypoint":%s},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
        "$(case $(uname -m) in aarch64) echo arm64 ;; *) echo amd64 ;; esac)" "$user" "$entrypoint" "$diff_sum" >"$w/config.json"
    cfg_sum=$(sha256sum "$w/config.json" | cut -d' ' -f1)
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%d}]}' \
        "$cfg_sum" "$(stat -c %s "$w/config.json")" "$layer_sum" "$(stat -c %s "$w/layer.tar.gz")" >"$w/manifest.json"
    man_sum=$(sha256sum "$w/manifest.json" | cut -d' ' -f1)
    printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
        "$man_sum" "$(stat -c %s "$w/manifest.json")" "$name" "${name##*:}" >"$w/index.json"
    printf '{"imageLayoutVersion":"1.0.0"}' >"$w/oci-layout"
    mv "$w/layer.tar.gz" "$w/blobs/sha256/$layer_sum"
    mv "$w/config.json" "$w/blobs/sha256/$cfg_sum"
    mv "$w/manifest.json" "$w/blobs/sha256/$man_sum"
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$w" -cf "$out" oci-layout index.json blobs
    rm -rf "$w"
}

node_ctr() { ctr --address "$1/containerd/containerd.sock" -n k8s.io "${@:2}"; }

# node_import STATE_DIR ARCHIVE...: import OCI archives into the node's containerd.
node_import() {
    local d=$1 a
    shift
    for a in "$@"; do
        [[ -f $a ]] || die "image archive $a does not exist"
        node_ctr "$d" images import --no-unpack=false "$a" >"$d/ctr-import.log" 2>&1 ||
            die "importing $a into containerd failed: $(tail -n 3 "$d/ctr-import.log")"
        # Unpacked for the CRI's snapshotter, so the kubelet finds it without a pull.
        log "imported $(basename "$a"): $(node_ctr "$d" images ls -q | tr '\n' ' ')"
    done
}

# iptables chains in every table, one "CMD TABLE CHAIN" line each (the snapshot `down` compares).
node_chains() {
    local cmd t
    for cmd in iptables ip6tables; do
        command -v "$cmd" >/dev/null || continue
        for t in filter nat mangle; do
            "$cmd" -t "$t" -S 2>/dev/null | awk -v c="$cmd" -v t="$t" '$1 == "-N" { print c, t, $2 }'
        done
    done
}

# The cgroups one level below each hierarchy's root.
node_cgroups() { find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d 2>/dev/null || true; }

# The bridge and host settings, before the API server starts (it listens on the bridge address).
node_net_up() {
    local d=$1 n
    if [[ -f $NODE_OWNER_FILE ]]; then
        local other p
        other=$(cat "$NODE_OWNER_FILE")
        for p in kube-apiserver containerd kubelet; do
            alive "$other/$p.pid" &&
                die "a node environment already runs in $other (one per machine); run: $0 down $other"
        done
        # Its processes were killed (a stopped session): remove what they left, as `down` would.
        log "removing what the stopped node environment of $other left"
        if [[ -d $other ]]; then node_down "$other"; else rm -f "$NODE_OWNER_FILE"; fi
    fi
    ip link show "$NODE_BRIDGE" >/dev/null 2>&1 && die "bridge $NODE_BRIDGE exists but no node environment owns it ($NODE_OWNER_FILE); 'ip link delete $NODE_BRIDGE' if nothing uses it"
    mkdir -p "$d/node"
    echo "$d" >"$NODE_OWNER_FILE"
    # What was here before, so that `down` removes only what this environment made.
    node_chains >"$d/node/chains.before"
    ls /run/netns 2>/dev/null >"$d/node/netns.before" || true
    node_cgroups >"$d/node/cgroups.before"
    ls /var/lib/cni/results 2>/dev/null >"$d/node/cni-results.before" || true
    cat /proc/sys/net/ipv4/ip_forward >"$d/node/ip_forward.before"
    ip link add "$NODE_BRIDGE" type bridge || die "cannot create bridge $NODE_BRIDGE"
    ip addr add "$NODE_ADDR/24" dev "$NODE_BRIDGE"
    ip link set "$NODE_BRIDGE" up
    # Pods reach Services through the host, which routes between the bridge and itself.
    echo 1 >/proc/sys/net/ipv4/ip_forward
    # The bridge address is for this machine's Pods only: drop what arrives for it elsewhere.
    iptables -N VMAFX-TESTENV-INPUT
    iptables -A VMAFX-TESTENV-INPUT -i "$NODE_BRIDGE" -j RETURN
    iptables -A VMAFX-TESTENV-INPUT -i lo -j RETURN
    iptables -A VMAFX-TESTENV-INPUT -j DROP
    iptables -I INPUT -d "$NODE_ADDR" -j VMAFX-TESTENV-INPUT
    for n in bridge-nf-call-iptables; do
        [[ $(cat /proc/sys/net/bridge/$n 2>/dev/null) == 1 ]] ||
            log "warning: /proc/sys/net/bridge/$n is not 1; Pod-to-Service traffic between Pods on the bridge may fail"
    done
}

node_certs() {
    local p=$1
    (
        cd "$p"
        umask 077
        client_cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME"
        rm -f ./*.csr ./*.ext ca.srl
    ) >>"$p/../openssl.log" 2>&1 || die "kubelet certificate generation failed (see $p/../openssl.log)"
}

# A kubeconfig like the admin's, for the kubelet's own identity system:node:vmafx-node.
node_kubeconfig() {
    local d=$1
    sed -e "s|client-certificate-data: .*|client-certificate-data: $(base64 -w0 <"$d/pki/kubelet.crt")|" \
        -e "s|client-key-data: .*|client-key-data: $(base64 -w0 <"$d/pki/kubelet.key")|" \
        "$d/kubeconfig" >"$d/node/kubelet.kubeconfig"
    chmod 600 "$d/node/kubelet.kubeconfig"
}

node_wait() {
    local what=$1 secs=$2
    shift 2
    local deadline=$(($(date +%s) + secs))
    until "$@" >/dev/null 2>&1; do
        (($(date +%s) < deadline)) || return 1
        sleep 0.5
    done
    log "$what ($(($(date +%s) - NODE_T0))s)"
}

# containerd with the CRI plugin, its state under STATE_DIR, the CNI configuration, the pause image.
node_containerd_up() {
    local d=$1
    mkdir -p "$d/containerd" "$d/cni/net.d" "$d/cni/ipam"
    cat >"$d/node/containerd.toml" <<EOF
version = 2
root = "$d/containerd/root"
state = "$d/containerd/state"
[grpc]
  address = "$d/containerd/containerd.sock"
[ttrpc]
  address = "$d/containerd/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  # This sandbox's capability bounding set lacks CAP_SYS_RESOURCE, so no process may lower its
  # oom_score_adj below its parent's (the kubelet asks -998 for sandboxes, runc then fails with
  # "failed to update /proc/self/oom_score_adj: Permission denied"). Clamp at containerd's own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$d/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN_DIR"
    conf_dir = "$d/cni/net.d"
EOF
    cat >"$d/cni/net.d/10-vmafx.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$NODE_CNI_NETWORK",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$NODE_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$d/cni/ipam",
        "ranges": [[{ "subnet": "$NODE_POD_CIDR", "rangeStart": "10.218.0.10", "gateway": "$NODE_ADDR" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
    start_detached "$d" containerd containerd --config "$d/node/containerd.toml"
    node_wait "containerd is up" 30 node_ctr "$d" version ||
        { tail -n 20 "$d/containerd.log" >&2; die "containerd did not start (log: $d/containerd.log)"; }
    node_import "$d" "$(pause_archive)"
}

# Everything else, once the API server answers.
node_up() {
    local d=$1 nb cb kubelet_port healthz_port proxy_healthz proxy_metrics
    NODE_T0=$(date +%s)
    nb="$(tool_dir kubernetes-node)/bin"
    cb="$(tool_dir coredns)/bin"
    local kubectl=("$(tool_dir kubernetes)/bin/kubectl" --kubeconfig="$d/kubeconfig" --request-timeout=5s)
    read -r kubelet_port healthz_port proxy_healthz proxy_metrics <<<"$(free_ports 4)"
    mkdir -p "$d/kubelet" "$d/pod-logs"
    node_certs "$d/pki"
    node_kubeconfig "$d"
    node_containerd_up "$d"

    # CoreDNS: the cluster DNS, answering for cluster.local on the bridge address only.
    cat >"$d/node/Corefile" <<EOF
cluster.local:53 in-addr.arpa:53 {
    bind $NODE_ADDR
    errors
    cache 5
    kubernetes cluster.local in-addr.arpa {
        kubeconfig $d/kubeconfig vmafx-testenv
        pods insecure
    }
}
EOF
    start_detached "$d" coredns "$cb/coredns" -conf "$d/node/Corefile"

    start_detached "$d" kube-scheduler "$nb/kube-scheduler" --kubeconfig="$d/kubeconfig" \
        --authentication-kubeconfig="$d/kubeconfig" --authorization-kubeconfig="$d/kubeconfig" \
        --leader-elect=false --secure-port=0 --profiling=false
    start_detached "$d" kube-controller-manager "$nb/kube-controller-manager" --kubeconfig="$d/kubeconfig" \
        --authentication-kubeconfig="$d/kubeconfig" --authorization-kubeconfig="$d/kubeconfig" \
        --leader-elect=false --secure-port=0 --profiling=false \
        --service-account-private-key-file="$d/pki/sa.key" --root-ca-file="$d/pki/ca.crt" \
        --service-cluster-ip-range=10.0.0.0/24 --use-service-account-credentials=false

    cat >"$d/node/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $d/kubeconfig
mode: iptables
hostnameOverride: $NODE_NAME
bindAddress: 127.0.0.1
clusterCIDR: $NODE_POD_CIDR
healthzBindAddress: 127.0.0.1:$proxy_healthz
metricsBindAddress: 127.0.0.1:$proxy_metrics
nodePortAddresses: ["$NODE_ADDR/32"]
oomScoreAdj: 0
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
EOF
    start_detached "$d" kube-proxy "$nb/kube-proxy" --config="$d/node/kube-proxy.yaml"

    : >"$d/node/resolv.conf"
    cat >"$d/node/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_ADDR
port: $kubelet_port
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $healthz_port
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $d/pki/ca.crt }
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://$d/containerd/containerd.sock
# This machine has cgroup v1, which the kubelet refuses unless told otherwise; no systemd.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
# No CAP_SYS_RESOURCE here (see containerd's restrict_oom_score_adj): keep the default score.
oomScoreAdj: 0
clusterDomain: cluster.local
clusterDNS: [$NODE_ADDR]
resolvConf: $d/node/resolv.conf
podLogsDir: $d/pod-logs
# Test workloads are small; a busy shared disk must not evict them.
evictionHard:
  memory.available: 50Mi
  nodefs.available: 1%
  imagefs.available: 1%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
EOF
    start_detached "$d" kubelet "$nb/kubelet" --config="$d/node/kubelet.yaml" \
        --kubeconfig="$d/node/kubelet.kubeconfig" --root-dir="$d/kubelet" --cert-dir="$d/kubelet/pki" \
        --hostname-override="$NODE_NAME" --node-ip="$NODE_ADDR"

    local p
    for p in coredns kube-scheduler kube-controller-manager kube-proxy kubelet; do
        sleep 0.2
        alive "$d/$p.pid" || { tail -n 20 "$d/$p.log" >&2; die "$p exited at start (log: $d/$p.log)"; }
    done
    node_wait "node $NODE_NAME is Ready" "${VMAFX_TESTENV_NODE_TIMEOUT:-120}" \
        "${kubectl[@]}" wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s ||
        { tail -n 30 "$d/kubelet.log" >&2; die "node $NODE_NAME was not Ready in time (logs in $d)"; }
    # Pods need the namespace's default ServiceAccount, made by the controller manager.
    node_wait "default ServiceAccount exists" 60 "${kubectl[@]}" get serviceaccount default ||
        die "the controller manager made no default ServiceAccount (log: $d/kube-controller-manager.log)"
}

# node_flush_chains STATE_DIR: delete the iptables chains that appeared since `up` (kube-proxy's
# KUBE-*, the CNI plugins' CNI-*), with every rule that jumps to them.
node_flush_chains() {
    local d=$1 cmd t chain rule
    [[ -f $d/node/chains.before ]] || return 0
    node_chains | grep -vxF -f "$d/node/chains.before" >"$d/node/chains.new" || true
    while read -r cmd t chain; do "$cmd" -t "$t" -F "$chain" 2>/dev/null || true; done <"$d/node/chains.new"
    while read -r cmd t chain; do
        "$cmd" -t "$t" -S 2>/dev/null | grep -E -- "-j $chain( |\$)" | while read -r rule; do
            # shellcheck disable=SC2086 # the rule's words, as iptables -S printed them
            eval "$cmd -t $t ${rule/#-A/-D}" 2>/dev/null || true
        done || true
    done <"$d/node/chains.new"
    while read -r cmd t chain; do "$cmd" -t "$t" -X "$chain" 2>/dev/null || true; done <"$d/node/chains.new"
}

node_down() {
    local d=$1 ids pid f m c
    [[ -d $d/node ]] || return 0
    stop_pidfiles "$d/kubelet.pid" "$d/kube-proxy.pid" "$d/kube-scheduler.pid" \
        "$d/kube-controller-manager.pid" "$d/coredns.pid"
    # Containers: kill every task, then delete it (runc removes its cgroups).
    if alive "$d/containerd.pid"; then
        ids=$(node_ctr "$d" tasks ls -q 2>/dev/null || true)
        for c in $ids; do node_ctr "$d" tasks kill -s SIGKILL "$c" >/dev/null 2>&1 || true; done
        for c in $ids; do
            for _ in 1 2 3 4 5 6 7 8 9 10; do
                node_ctr "$d" tasks delete "$c" >/dev/null 2>&1 && break
                sleep 0.2
            done
        done
    fi
    stop_pidfiles "$d/containerd.pid"
    # Shims outlive containerd; they are the ones whose command line names this state dir.
    # (The pattern comes from a file, so that grep's own command line does not match it.)
    echo "$d/containerd/containerd.sock" >"$d/node/shim.pattern"
    for f in $(grep -lsFf "$d/node/shim.pattern" /proc/[0-9]*/cmdline); do
        pid=${f#/proc/}
        kill -KILL "${pid%/cmdline}" 2>/dev/null || true
    done
    # Network namespaces made by the CRI (their veths go with them).
    if [[ -f $d/node/netns.before ]]; then
        for f in $(ls /run/netns 2>/dev/null); do
            grep -qxF "$f" "$d/node/netns.before" || ip netns delete "$f" 2>/dev/null ||
                { umount "/run/netns/$f" 2>/dev/null; rm -f "/run/netns/$f"; }
        done
    fi
    # Mounts below the state dir (rootfs overlays, Pod volumes, shm), deepest first.
    awk -v p="$d/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done || true
    # Cgroups made since `up` (the containers' and their parents'), once their processes are gone.
    if [[ -f $d/node/cgroups.before ]]; then
        node_cgroups | grep -vxF -f "$d/node/cgroups.before" | while read -r m; do
            find "$m" -depth -type d -exec rmdir {} \; 2>/dev/null || true
        done || true
    fi
    node_flush_chains "$d"
    ip link delete "$NODE_BRIDGE" 2>/dev/null || true
    [[ -f $d/node/ip_forward.before ]] && cat "$d/node/ip_forward.before" >/proc/sys/net/ipv4/ip_forward
    # The kubelet links container logs from /var/log/containers; libcni caches results.
    for f in /var/log/containers/*; do
        [[ -L $f && $(readlink "$f") == "$d/"* ]] && rm -f "$f"
    done
    if [[ -f $d/node/cni-results.before ]]; then
        for f in $(ls /var/lib/cni/results 2>/dev/null); do
            grep -qxF "$f" "$d/node/cni-results.before" || rm -f "/var/lib/cni/results/$f"
        done
    fi
    [[ -f $NODE_OWNER_FILE && $(cat "$NODE_OWNER_FILE") == "$d" ]] && rm -f "$NODE_OWNER_FILE"
    return 0
}
