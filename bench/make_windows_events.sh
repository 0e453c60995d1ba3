#!/usr/bin/env bash
# bench/make_windows_events.sh [N [OUT]] -> bench/data/windows-events.jsonl (or OUT)
# A benchmark input of real Windows events: every OTRF Security-Datasets
# recording in ../shared/data/windows-events/datasets (or $SOCSTREAM_WINDOWS_DATASETS),
# zips in name order, each zip's JSON-lines file as it is (CRLF or LF line
# ends, the empty lines it holds, byte for byte), and the whole concatenation
# repeated until the file has at least N lines (default 1,000,000). Zips that
# hold only network captures (*.cap, *.pcapng) and macOS `__MACOSX/` entries
# are not event logs and are left out. Prints the line and byte counts.
set -euo pipefail
export LC_ALL=C   # the glob's order: byte order of the names

die() { echo "make_windows_events.sh: $*" >&2; exit 1; }
root="$(cd "$(dirname "$0")/.." && pwd)"
n="${1:-1000000}"
[[ "$n" =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer, not '$n'"
src="${SOCSTREAM_WINDOWS_DATASETS:-$root/../shared/data/windows-events/datasets}"
[ -d "$src" ] || die "$src: no such directory (the shared data sets)"
command -v unzip >/dev/null || die "unzip is missing (apt-get install unzip)"
out="${2:-$root/bench/data/windows-events.jsonl}"
mkdir -p "$(dirname "$out")"

one="$(mktemp "$(dirname "$out")/.windows-events.one.XXXXXX")"
tmp="$(mktemp "$(dirname "$out")/.windows-events.out.XXXXXX")"
trap 'rm -f "$one" "$tmp"' EXIT

zips=("$src"/*.zip)
[ -e "${zips[0]}" ] || die "$src holds no zip"
used=0 skipped=0
for z in "${zips[@]}"; do
  mapfile -t members < <(unzip -Z1 "$z" | grep -E '\.json$' | grep -vE '(^|/)(__MACOSX/|\._)' || true)
  if [ "${#members[@]}" -eq 0 ]; then skipped=$((skipped + 1)); continue; fi
  unzip -p "$z" "${members[@]}" >>"$one"
  # A file without a final line end would glue its last line to the next one's first.
  [ -z "$(tail -c1 "$one")" ] || echo >>"$one"
  used=$((used + 1))
done

per="$(wc -l <"$one")"
[ "$per" -gt 0 ] || die "no lines in $src"
copies=$(((n + per - 1) / per))
for ((i = 0; i < copies; i++)); do cat "$one"; done >"$tmp"
chmod 644 "$tmp"
mv "$tmp" "$out"
bytes="$(stat -c %s "$out")"
echo "$out: $((per * copies)) lines, $bytes bytes ($copies x $per lines from $used datasets; $skipped zips without event logs skipped)"
