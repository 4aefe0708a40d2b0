#!/bin/sh
# Regenerates the committed CAPTCHA clips in src/security/captcha-audio/<language>/: one short recording of each
# character of the CAPTCHA alphabet (ALPHABET in src/security/captcha.ts; keep the two lists equal, a test checks it)
# in each language the pages speak, by espeak-ng (US English, which says "zee", not "zed"; French), resampled to
# 8 kHz mono 16-bit, trimmed of leading and trailing silence and normalised to -3 dBFS. Only needed when the alphabet,
# a language or a voice changes: the clips are committed, so CI and production never need espeak-ng or sox.
#
#   apt-get install -y espeak-ng sox && sh scripts/captcha-audio.sh
set -eu

CHARS="2 3 4 5 6 7 8 9 f k r w y"
# <directory>:<espeak-ng voice>, a directory per language of the pages (SUPPORTED_LOCALES, a test checks it).
VOICES="en:en-us fr:fr-fr"
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

command -v espeak-ng >/dev/null || { echo "espeak-ng is missing: apt-get install -y espeak-ng" >&2; exit 1; }
command -v sox >/dev/null || { echo "sox is missing: apt-get install -y sox" >&2; exit 1; }

for pair in $VOICES; do
  language=${pair%%:*}
  voice=${pair#*:}
  out="$here/../src/security/captcha-audio/$language"
  mkdir -p "$out"
  rm -f "$out"/*.wav
  for c in $CHARS; do
    espeak-ng -v "$voice" -w "$tmp/$c.wav" "$c"
    # -D: no dither, so the same input gives the same bytes. silence…reverse…: trim both ends below 0.3 %.
    sox -D "$tmp/$c.wav" -r 8000 -c 1 -b 16 -e signed-integer "$out/$c.wav" \
      silence 1 0.01 0.3% reverse silence 1 0.01 0.3% reverse gain -n -3
  done
  du -cb "$out"/*.wav | tail -1
done
