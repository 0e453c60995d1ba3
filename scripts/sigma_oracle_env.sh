#!/usr/bin/env bash
# The Sigma oracle's Python (scripts/sigma_oracle.py, sigma_compare.py,
# sigma_regression_events.py): a venv on Debian's /usr/bin/python3 with pySigma
# and its SQLite backend pinned by scripts/sigma_oracle_requirements.txt.
# Idempotent, and quick when the venv already holds those pins (a stamp of the
# requirements file's hash). Prints its python.
#   scripts/sigma_oracle_env.sh        -> .venv-sigma/bin/python
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv-sigma"
req="$root/scripts/sigma_oracle_requirements.txt"
stamp="$venv/.requirements.sha256"
[ "$(id -u)" -eq 0 ] || SUDO=sudo
dpkg-query -W -f='${Status}' python3-venv 2>/dev/null | grep -q "install ok installed" || {
  ${SUDO:-} apt-get install -y -qq --no-install-recommends python3-venv >/dev/null 2>&1 || {
    ${SUDO:-} apt-get update -qq && ${SUDO:-} apt-get install -y -qq --no-install-recommends python3-venv >/dev/null; }; }
if [ ! -x "$venv/bin/python" ]; then
  /usr/bin/python3 -m venv "$venv"
fi
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" >&2
  "$venv/bin/python" -c "import sigma.backends.sqlite, re2" >&2
  echo "$want" > "$stamp"
fi
echo "$venv/bin/python"
