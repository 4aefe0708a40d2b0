#!/bin/sh
# Regenerates the committed CAPTCHA clips in src/security/captcha-audio/: one short recording of each character of
# the CAPTCHA alphabet (ALPHABET in src/security/captcha.ts; keep the two lists equal, a test checks it), spoken by
# espeak-ng's US English voice (which says "zee", not "zed"), resampled to 8 kHz mono 16-bit, trimmed of leading and
# trailing silence and normalised to -3 dBFS. Only needed when the alphabet or the voice changes: the clips are
# committed, so CI and production never need espeak-ng or sox.
#
#   apt-get install -y espeak-ng sox && sh scripts/captcha-audio.sh
set -eu

CHARS="2 3 4 5 6 7 8 9 f k r w y"
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../src/security/captcha-audio"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

command -v espeak-ng >/dev/null || { echo "espeak-ng is missing: apt-get install -y espeak-ng" >&2; exit 1; }
command -v sox >/dev/null || { echo "sox is missing: apt-get install -y sox" >&2; exit 1; }

mkdir -p "$out"
rm -f "$out"/*.wav
for c in $CHARS; do
  espeak-ng -v en-us -w "$tmp/$c.wav" "$c"
  # -D: no dither, so the same input gives the same bytes. silence…reverse…: trim both ends below 0.3 %.
  sox -D "$tmp/$c.wav" -r 8000 -c 1 -b 16 -e signed-integer "$out/$c.wav" \
    silence 1 0.01 0.3% reverse silence 1 0.01 0.3% reverse gain -n -3
done
du -cb "$out"/*.wav | tail -1
