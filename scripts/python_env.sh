#!/usr/bin/env bash
# The Python tooling for models/ (golden files, training, export) and the
# tests' (the alert schema's validator): a venv on
# Debian's /usr/bin/python3 that also sees Debian's python3-torch (it matches
# the engine's libtorch 1.13), with PyPI packages on top. Prints its python.
#   scripts/python_env.sh        -> .venv/bin/python
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
[ "$(id -u)" -eq 0 ] || SUDO=sudo
for p in python3-venv python3-torch; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || {
    ${SUDO:-} apt-get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1 || {
      ${SUDO:-} apt-get update -qq && ${SUDO:-} apt-get install -y -qq --no-install-recommends "$p" >/dev/null; }; }
done
if [ ! -x "$venv/bin/python" ]; then
  /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
# transformers 4.x keeps the reference (pure Python) BertTokenizer that the engine's tokenizer must match.
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$root/models/train/requirements.txt" \
  -r "$root/scripts/requirements.txt" >&2
echo "$venv/bin/python"
