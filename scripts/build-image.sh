#!/usr/bin/env bash
# build-image.sh — builds the vmafx container image without Docker: an OCI image layout of two
# reproducible layers (the runtime: shared libraries, ffmpeg, rclone, CA certificates, a non-root
# user; then the vmafx binary), optionally archived and pushed to a registry with crane.
#
#   scripts/build-image.sh [options]
#
#   --binary PATH   package this vmafx binary (default: cargo build --release --locked -p vmafx)
#   --name REF      the image's name, repository:tag (default: ghcr.io/vmafx/vmafx:<crate version>,
#                   what the Helm chart runs by default)
#   --layout DIR    where the OCI image layout goes (default: target/image/oci; replaced)
#   --archive FILE  also write the layout as an OCI archive (ctr images import, kind load image-archive)
#   --push REF      push the image to a registry (crane, with your docker/podman credentials)
#   --insecure      with --push: the registry speaks plain HTTP
#   --no-ffmpeg     leave ffmpeg out (workers then read Y4M and raw YUV only)
#   --no-rclone     leave rclone out (rclone:// and rclone remote inputs then fail)
#
# The same binary and the same host packages give the same image digest. ffmpeg and rclone are
# taken from PATH with every shared library they load; the image runs as uid 65532 with
# /usr/local/bin/vmafx as its entrypoint. crane is taken from PATH or from test/k8s/testenv.sh's
# cache (`test/k8s/testenv.sh build crane`).
set -euo pipefail
cd "$(dirname "$0")/.."
root_dir=$PWD

die() {
    echo "build-image.sh: error: $*" >&2
    exit 1
}
log() { echo "build-image.sh: $*" >&2; }

binary="" name="" layout="target/image/oci" archive="" push="" insecure=0 with_ffmpeg=1 with_rclone=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --binary) binary=${2:?--binary needs a path}; shift 2 ;;
        --name) name=${2:?--name needs repository:tag}; shift 2 ;;
        --layout) layout=${2:?--layout needs a directory}; shift 2 ;;
        --archive) archive=${2:?--archive needs a file}; shift 2 ;;
        --push) push=${2:?--push needs an image reference}; shift 2 ;;
        --insecure) insecure=1; shift ;;
        --no-ffmpeg) with_ffmpeg=0; shift ;;
        --no-rclone) with_rclone=0; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
done

for tool in ldd readelf strip tar gzip sha256sum; do
    command -v "$tool" >/dev/null || die "$tool is required (Debian: binutils, libc-bin, tar, gzip, coreutils)"
done

version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
[[ -n $version ]] || die "no version in Cargo.toml's [workspace.package]"
name=${name:-ghcr.io/vmafx/vmafx:$version}
[[ $name == *:* && ${name##*:} != */* ]] || die "--name $name: give repository:tag"
tag=${name##*:}
case "$(uname -m)" in
    x86_64) arch=amd64 ;;
    aarch64) arch=arm64 ;;
    *) die "unsupported machine $(uname -m)" ;;
esac

if [[ -z $binary ]]; then
    log "building vmafx (cargo build --release --locked -p vmafx)"
    cargo build --release --locked -p vmafx
    binary="${CARGO_TARGET_DIR:-$root_dir/target}/release/vmafx"
fi
[[ -x $binary ]] || die "--binary $binary: not an executable file"

tools=()
if [[ $with_ffmpeg == 1 ]]; then
    command -v ffmpeg >/dev/null || die "ffmpeg is not on PATH: install it (apt-get install ffmpeg) or pass --no-ffmpeg"
    tools+=("$(command -v ffmpeg)")
fi
if [[ $with_rclone == 1 ]]; then
    command -v rclone >/dev/null || die "rclone is not on PATH: install it (apt-get install rclone) or pass --no-rclone"
    tools+=("$(command -v rclone)")
fi
certs=/etc/ssl/certs/ca-certificates.crt
[[ -f $certs ]] || die "$certs is missing: install ca-certificates (https and s3 inputs verify servers with it)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
runtime="$work/runtime" app="$work/app"
mkdir -p "$runtime" "$app"

# copy_file SRC DEST_ROOT: SRC (symlinks followed) at the same path below DEST_ROOT.
copy_file() {
    mkdir -p "$2$(dirname "$1")"
    cp -L "$1" "$2$1"
}

# The ELF interpreter and every shared library `ldd` resolves for $1, as absolute paths.
shared_objects() {
    local line
    readelf -l "$1" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p'
    while read -r line; do
        case "$line" in
            *"not found"*) die "$1 needs ${line%% *}, which is not installed" ;;
            *"=> /"*) line=${line#*=> }; echo "${line%% (*}" ;;
            /*) echo "${line%% (*}" ;;
        esac
    done < <(ldd "$1" 2>/dev/null || true)
}

# Runtime layer: libraries, helper tools, certificates, users, writable /tmp.
for tool in "${tools[@]}"; do
    mkdir -p "$runtime/usr/bin"
    cp -L "$tool" "$runtime/usr/bin/$(basename "$tool")"
done
for elf in "$binary" "${tools[@]}"; do
    # Not in a pipeline: a missing library must stop this shell, not a subshell.
    shared_objects "$elf" >"$work/objects"
    while read -r object; do
        [[ -e "$runtime$object" ]] || copy_file "$object" "$runtime"
    done <"$work/objects"
done
copy_file "$certs" "$runtime"
mkdir -p "$runtime/etc" "$runtime/tmp" "$runtime/dev" "$runtime/proc" "$runtime/sys"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/tmp:/sbin/nologin\n' >"$runtime/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$runtime/etc/group"
printf 'hosts: files dns\n' >"$runtime/etc/nsswitch.conf"

# App layer: the binary, without debug information.
mkdir -p "$app/usr/local/bin"
strip -o "$app/usr/local/bin/vmafx" "$binary"

# Modes and times fixed so that the same inputs give the same bytes.
for dir in "$runtime" "$app"; do
    find "$dir" -type d -exec chmod 0755 {} +
    find "$dir" -type f -exec chmod 0644 {} +
done
chmod 0755 "$app/usr/local/bin/vmafx" "$runtime"/usr/bin/* 2>/dev/null || true
find "$runtime" -type f \( -name 'ld-linux*' -o -name 'ld64*' \) -exec chmod 0755 {} +
chmod 1777 "$runtime/tmp"

rm -rf "$layout"
mkdir -p "$layout/blobs/sha256"
digest_of() { sha256sum "$1" | cut -d' ' -f1; }
size_of() { wc -c <"$1" | tr -d ' '; }
# add_blob FILE: move FILE into the layout; prints its digest.
add_blob() {
    local d
    d=$(digest_of "$1")
    mv "$1" "$layout/blobs/sha256/$d"
    echo "$d"
}

layer_descriptors="" diff_ids=""
for dir in "$runtime" "$app"; do
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=posix \
        --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
        -C "$dir" -cf "$work/layer.tar" .
    diff_ids+="${diff_ids:+,}\"sha256:$(digest_of "$work/layer.tar")\""
    gzip -n -6 "$work/layer.tar"
    size=$(size_of "$work/layer.tar.gz")
    digest=$(add_blob "$work/layer.tar.gz")
    layer_descriptors+="${layer_descriptors:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$digest\",\"size\":$size}"
done

labels="\"org.opencontainers.image.title\":\"vmafx\",\"org.opencontainers.image.version\":\"$version\",\"org.opencontainers.image.licenses\":\"see THIRD_PARTY_NOTICES\""
printf '%s' "{\"architecture\":\"$arch\",\"os\":\"linux\",\"created\":\"1970-01-01T00:00:00Z\",\
\"config\":{\"User\":\"65532:65532\",\"Entrypoint\":[\"/usr/local/bin/vmafx\"],\"Cmd\":[\"--help\"],\
\"Env\":[\"PATH=/usr/local/bin:/usr/bin:/bin\",\"HOME=/tmp\",\"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt\"],\
\"WorkingDir\":\"/tmp\",\"Labels\":{$labels}},\
\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[$diff_ids]},\
\"history\":[{\"created\":\"1970-01-01T00:00:00Z\",\"created_by\":\"scripts/build-image.sh: runtime\"},\
{\"created\":\"1970-01-01T00:00:00Z\",\"created_by\":\"scripts/build-image.sh: vmafx $version\"}]}" >"$work/config.json"
config_size=$(size_of "$work/config.json")
config_digest=$(add_blob "$work/config.json")

printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\
\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$config_digest\",\"size\":$config_size},\
\"layers\":[$layer_descriptors],\"annotations\":{$labels}}" >"$work/manifest.json"
manifest_size=$(size_of "$work/manifest.json")
manifest_digest=$(add_blob "$work/manifest.json")

printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\
\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$manifest_digest\",\
\"size\":$manifest_size,\"platform\":{\"architecture\":\"$arch\",\"os\":\"linux\"},\
\"annotations\":{\"org.opencontainers.image.ref.name\":\"$tag\",\"io.containerd.image.name\":\"$name\"}}]}" >"$layout/index.json"
log "image $name (sha256:$manifest_digest) in $layout"

if [[ -n $archive ]]; then
    mkdir -p "$(dirname "$archive")"
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$layout" -cf "$archive" .
    log "OCI archive $archive"
fi

if [[ -n $push ]]; then
    crane=$(command -v crane || true)
    if [[ -z $crane ]]; then
        crane="$(test/k8s/testenv.sh bin-dir crane)/crane"
        [[ -x $crane ]] || die "crane is needed to push: run test/k8s/testenv.sh build crane, or install it"
    fi
    flags=()
    [[ $insecure == 1 ]] && flags+=(--insecure)
    "$crane" push "${flags[@]}" "$layout" "$push" >/dev/null || die "failed to push to $push"
    log "pushed $push"
fi
echo "sha256:$manifest_digest"
