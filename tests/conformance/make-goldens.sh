#!/usr/bin/env bash
# Regenerates goldens/ by running libvmaf's own `vmaf` tool (v3.2.0, built by hand from the
# Netflix/vmaf tag v3.2.0 with its default meson options; not part of this repository) on every
# case in cases.tsv. Inputs are handed to libvmaf as raw .yuv, decoded by ffmpeg where they are
# encoded, so that libvmaf sees exactly the samples vmafx reads.
#
# libvmaf must be built with `-Denable_float=true`: the float models and SpEED-chroma (which the
# vmaf_v1.0.16 models use) exist only in such a build; it changes nothing in the integer code.
#
# Goldens come from the tool as a default build runs it on x86-64 with AVX2, because that is
# what users compare against. libvmaf's own C path (--cpumask 4294967295) disagrees with its AVX2
# ADM kernels on widths that are not a multiple of their vector width and on strong-contrast
# content (Netflix/vmaf#1610); vmafx follows the AVX2 behaviour. Its AVX-512 ADM kernels differ
# again on such sizes, so `--cpumask 48` masks them (CPU flag bits 4 and 5): a machine with
# AVX-512 writes the same goldens as one without, where the mask changes nothing.
#
# libvmaf's float ADM (the float models, `--feature float_adm`) divides with the CPU's `rcpss`
# estimate plus one Newton step, and AMD's and Intel's estimates differ in their last bits, so
# those cases may print differently on the two vendors (in the sixth decimal). Their goldens go
# to goldens/ on AMD and, where they differ from those, to goldens/rcpss-intel/ on Intel; the test
# picks by the CPU's `rcpss` fingerprint (vmafx_engine::cpu::rcpss_table). Every other case is
# the same on both.
#
#   tests/conformance/make-goldens.sh /path/to/vmaf [CASE_REGEX]
#
# With CASE_REGEX only the cases whose name matches it (bash =~) are rewritten.
set -euo pipefail
vmaf=${1:?usage: make-goldens.sh /path/to/libvmaf-v3.2.0/vmaf [CASE_REGEX]}
only=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
version=$("$vmaf" --version 2>&1 | tail -n 1)
cpumask="--cpumask 48"
[ "$version" = "3.2.0" ] || { echo "make-goldens: $vmaf is libvmaf $version, not 3.2.0" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo run -q --release -p vmafx-fixtures --manifest-path "$root/Cargo.toml" -- "$work/fx"
mkdir -p "$here/goldens"
case $(grep -m1 '^vendor_id' /proc/cpuinfo | awk '{print $3}') in
  AuthenticAMD) float_adm_goldens=goldens ;;
  GenuineIntel) float_adm_goldens=goldens/rcpss-intel ;;
  *) float_adm_goldens="" ;;
esac

# Converts a case input to raw .yuv; prints "-w W -h H -p P -b B" for it.
to_raw() {
  local src=$1 dst=$2
  local info
  info=$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height,pix_fmt -of csv=p=0 "$src")
  local w h pix
  IFS=, read -r w h pix <<<"$info"
  local p b
  case $pix in
    yuv420p|yuvj420p) p=420 b=8 ;; yuv422p|yuvj422p) p=422 b=8 ;; yuv444p|yuvj444p) p=444 b=8 ;;
    yuv420p10le) p=420 b=10 ;; yuv422p10le) p=422 b=10 ;; yuv444p10le) p=444 b=10 ;;
    yuv420p12le) p=420 b=12 ;; yuv422p12le) p=422 b=12 ;; yuv444p12le) p=444 b=12 ;;
    *) echo "make-goldens: unexpected pixel format $pix in $src" >&2; exit 1 ;;
  esac
  ffmpeg -nostdin -v error -i "$src" -f rawvideo -pix_fmt "$pix" "$dst" -y
  # libvmaf v3.2.0's readers size subsampled chroma by rounding down while files round up, so
  # its tool desynchronises on odd sizes (Netflix/vmaf PR #1604). Hand it the rounded-down
  # planes it expects: those are the samples libvmaf computes with once the read is fixed.
  if [ "$p" != 444 ] && { [ $((w % 2)) = 1 ] || { [ "$p" = 420 ] && [ $((h % 2)) = 1 ]; }; }; then
    python3 - "$dst" "$w" "$h" "$p" "$b" <<'PY'
import sys
path, w, h, p, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
bps = 2 if b > 8 else 1
cw_file, ch_file = (w + 1) // 2, ((h + 1) // 2 if p == "420" else h)
cw_pic, ch_pic = w // 2, (h // 2 if p == "420" else h)
data = open(path, "rb").read()
frame = (w * h + 2 * cw_file * ch_file) * bps
out = bytearray()
for f in range(len(data) // frame):
    base = f * frame
    out += data[base:base + w * h * bps]
    for plane in range(2):
        start = base + (w * h + plane * cw_file * ch_file) * bps
        for row in range(ch_pic):
            row_start = start + row * cw_file * bps
            out += data[row_start:row_start + cw_pic * bps]
open(path, "wb").write(bytes(out))
PY
  fi
  echo "-w $w -h $h -p $p -b $b"
}

resolve() {
  case $1 in
    fx:*) echo "$work/fx/${1#fx:}" ;;
    media:*) echo "$here/media/${1#media:}" ;;
    *) echo "make-goldens: bad input $1" >&2; exit 1 ;;
  esac
}

while IFS=$'\t' read -r name ref dist flags; do
  case $name in ''|'#'*) continue ;; esac
  if [ -n "$only" ] && ! [[ $name =~ $only ]]; then continue; fi
  golden="$here/goldens/$name.json"
  if [[ $flags =~ vmaf_float|float_adm ]]; then
    [ -n "$float_adm_goldens" ] || { echo "make-goldens: $name needs an AMD or Intel CPU (rcpss)" >&2; exit 1; }
    mkdir -p "$here/$float_adm_goldens"
    golden="$here/$float_adm_goldens/$name.json"
  fi
  geometry=$(to_raw "$(resolve "$ref")" "$work/$name.ref.yuv")
  to_raw "$(resolve "$dist")" "$work/$name.dist.yuv" >/dev/null
  # shellcheck disable=SC2086 # flags and geometry are word lists
  "$vmaf" -r "$work/$name.ref.yuv" -d "$work/$name.dist.yuv" $geometry $cpumask $flags -q \
    --json -o "$golden"
  # libvmaf's SIMD kernels read uninitialised memory on some sizes; a golden that changes when
  # glibc fills fresh allocations with a pattern is undefined behaviour, not a reference.
  # shellcheck disable=SC2086
  MALLOC_PERTURB_=165 "$vmaf" -r "$work/$name.ref.yuv" -d "$work/$name.dist.yuv" $geometry $cpumask $flags \
    -q --json -o "$work/$name.perturbed.json"
  if ! diff -q <(grep -v '"fps"' "$golden") <(grep -v '"fps"' "$work/$name.perturbed.json") >/dev/null; then
    echo "make-goldens: libvmaf's output for $name depends on uninitialised memory; pick another size" >&2
    exit 1
  fi
  # Intel's golden is kept only where it differs from AMD's (goldens/NAME.json).
  if [ "$golden" != "$here/goldens/$name.json" ] && [ -f "$here/goldens/$name.json" ] &&
    diff -q <(grep -v '"fps"' "$golden") <(grep -v '"fps"' "$here/goldens/$name.json") >/dev/null; then
    rm "$golden"
    echo "golden: $name (the same on Intel as on AMD)"
    continue
  fi
  echo "golden: ${golden#"$here/"}"
done <"$here/cases.tsv"

# One case in every other output format, compared byte for byte (bar version and fps).
if [ -n "$only" ]; then echo "goldens matching $only written with libvmaf $version"; exit 0; fi
geometry=$(to_raw "$work/fx/pan_420_8bit_blur_ref.y4m" "$work/f.ref.yuv")
to_raw "$work/fx/pan_420_8bit_blur_dist.y4m" "$work/f.dist.yuv" >/dev/null
for fmt in xml csv sub; do
  # shellcheck disable=SC2086
  "$vmaf" -r "$work/f.ref.yuv" -d "$work/f.dist.yuv" $geometry $cpumask --feature psnr -q --$fmt \
    -o "$here/goldens/formats.$fmt"
done
echo "goldens written with libvmaf $version"
