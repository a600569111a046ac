#!/usr/bin/env bash
# Fetch OpenCV's real surveillance sample vtest.avi (768x576, 10 fps, 795 frames) from Debian's
# opencv-doc package, without installing the package. Usage: scripts/get_vtest.sh [OUT_DIR]
# Prints the file's path. A copy already in OUT_DIR is reused; the copy is written under a
# temporary name and renamed, so an interrupted fetch never leaves a truncated vtest.avi.
# The project uses only frames 0-399 of it (docs/realcheck.md).
set -euo pipefail
OUT="${1:-data/samples}"
mkdir -p "$OUT"
[ -s "$OUT/vtest.avi" ] && { echo "$OUT/vtest.avi"; exit 0; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download opencv-doc >/dev/null 2>&1) \
  || { echo "get_vtest: error: 'apt-get download opencv-doc' failed (run 'apt-get update' first?)" >&2; exit 1; }
dpkg-deb -x "$tmp"/opencv-doc_*.deb "$tmp/x"
found="$(find "$tmp/x" -name vtest.avi | head -n 1)"
[ -n "$found" ] || { echo "get_vtest: error: vtest.avi not found in opencv-doc" >&2; exit 1; }
cp "$found" "$OUT/vtest.avi.part"
mv "$OUT/vtest.avi.part" "$OUT/vtest.avi"
echo "$OUT/vtest.avi"
