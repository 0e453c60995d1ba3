#!/usr/bin/env bash
# Refresh the bundled Sigma rules from a SigmaHQ/sigma git checkout:
#   scripts/update_sigma.sh /path/to/sigma
# Replaces config/sigma/{rules,rules-emerging-threats,rules-threat-hunting,
# rules-compliance,rules-placeholder,rules-dfir} with the checkout's *.yml files
# (same layout; a folder without rule files is not created), copies its licence
# notice to config/sigma/LICENSE.md, rewrites the "Commit:" line and the counts
# table of config/sigma/SOURCE.md, and prints the counts. config/sigma/pipelines/
# is socstream's own and is left alone. Symbolic links in the checkout are never
# followed: a linked rule folder is refused, linked files are skipped (and named).
set -euo pipefail

die() { echo "update_sigma.sh: $*" >&2; exit 1; }
[ $# -eq 1 ] || { echo "usage: $0 /path/to/SigmaHQ-sigma-checkout" >&2; exit 2; }

root="$(cd "$(dirname "$0")/.." && pwd -P)"
dest="$root/config/sigma"
source_md="$dest/SOURCE.md"
folders=(rules rules-emerging-threats rules-threat-hunting rules-compliance rules-placeholder rules-dfir)

[ -d "$1" ] || die "$1: not a directory"
src="$(cd "$1" && pwd -P)"

# Is it a SigmaHQ checkout?
[ ! -L "$src/rules" ] || die "$src/rules is a symbolic link: refusing to follow it"
[ -d "$src/rules" ] || die "$src has no rules/ folder: not a SigmaHQ/sigma checkout"
licence=""
for f in LICENSE.md LICENSE.Detection.Rules.md; do
  if [ -f "$src/$f" ] && [ ! -L "$src/$f" ]; then licence="$src/$f"; break; fi
done
[ -n "$licence" ] || die "$src has no LICENSE.md or LICENSE.Detection.Rules.md: not a SigmaHQ/sigma checkout"
for d in "${folders[@]}"; do
  [ ! -L "$src/$d" ] || die "$src/$d is a symbolic link: refusing to follow it"
done
case "$src/" in "$dest/"*) die "$src is inside $dest";; esac
case "$dest/" in "$src/"*) die "$dest is inside $src";; esac

gitout="$(git -C "$src" rev-parse --show-toplevel 2>&1)" || die "$src is not a git checkout: $gitout"
[ "$(cd "$gitout" && pwd -P)" = "$src" ] || die "$src is not the top of its git checkout ($gitout is)"
commit="$(git -C "$src" rev-parse --short=9 HEAD)" || die "$src: no commit checked out"
date="$(git -C "$src" log -1 --format=%cs HEAD)"
dirty=""
if [ -n "$(git -C "$src" status --porcelain -- "${folders[@]}" 2>/dev/null)" ]; then
  dirty=", with uncommitted changes"
  echo "update_sigma.sh: warning: $src has uncommitted changes in its rule folders" >&2
fi

[ -f "$source_md" ] || die "$source_md is missing (git checkout -- config/sigma/SOURCE.md)"
grep -q '^Commit: ' "$source_md" || die "$source_md has no 'Commit: ' line to rewrite"
grep -q '^<!-- counts' "$source_md" && grep -q '^<!-- /counts -->' "$source_md" \
  || die "$source_md has no counts markers to rewrite"

# Copy into a staging folder next to the destination, then swap folder by folder.
stage="$(mktemp -d "$dest/.update.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/new" "$stage/old"
for d in "${folders[@]}"; do
  if [ ! -d "$src/$d" ]; then
    echo "update_sigma.sh: warning: the checkout has no $d/ folder: it is removed here too" >&2
    continue
  fi
  # find -P (the default) neither follows nor descends into symbolic links;
  # cp without -L copies regular files only here.
  links="$(cd "$src" && find "$d" -type l -print)"
  [ -z "$links" ] || { echo "update_sigma.sh: warning: skipping symbolic links:" >&2; printf '  %s\n' "$links" >&2; }
  (cd "$src" && find "$d" -type f -name '*.yml' -print0 | xargs -0 -r cp --parents -t "$stage/new")
done
find "$stage/new" -type d -exec chmod 755 {} +
find "$stage/new" -type f -exec chmod 644 {} +

declare -A before=()
for d in "${folders[@]}"; do
  before[$d]=0
  [ -d "$dest/$d" ] && before[$d]="$(find "$dest/$d" -type f -name '*.yml' | wc -l)"
  if [ -e "$dest/$d" ]; then mv "$dest/$d" "$stage/old/$d"; fi
  if [ -d "$stage/new/$d" ]; then mv "$stage/new/$d" "$dest/$d"; fi
done
cp "$licence" "$dest/LICENSE.md"
chmod 644 "$dest/LICENSE.md"

# Counts, printed and written into SOURCE.md.
table="$stage/table"
total=0
{
  echo "| folder | rule files (\`*.yml\`) |"
  echo "|---|---:|"
} >"$table"
echo "SigmaHQ/sigma $commit ($date$dirty) -> $dest"
printf '  %-26s %7s %7s\n' folder before after
for d in "${folders[@]}"; do
  n=0
  [ -d "$dest/$d" ] && n="$(find "$dest/$d" -type f -name '*.yml' | wc -l)"
  total=$((total + n))
  echo "| \`$d/\` | $n |" >>"$table"
  printf '  %-26s %7d %7d\n' "$d/" "${before[$d]}" "$n"
done
echo "| total | $total |" >>"$table"
printf '  %-26s %7s %7d\n' total "" "$total"

awk -v line="Commit: $commit ($date$dirty)" -v table="$table" '
  /^Commit: / { print line; next }
  /^<!-- counts/ { print; while ((getline t < table) > 0) print t; skip = 1; next }
  /^<!-- \/counts -->/ { skip = 0 }
  !skip { print }
' "$source_md" >"$stage/SOURCE.md"
cat "$stage/SOURCE.md" >"$source_md"
echo "wrote $source_md; review with: git status -- config/sigma"
