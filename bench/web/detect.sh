#!/usr/bin/env bash
# bench/web's table: tunes the cascade's settings on the tuning sets, then runs
# every detector on every set. Run it under one `cpulock` hold: the figures of
# one run are compared with one another.
#   cpulock bench/web/detect.sh [--model DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v dpkg >/dev/null && dpkg -s libmodsecurity3 modsecurity-crs >/dev/null 2>&1 ||
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libmodsecurity3 modsecurity-crs >/dev/null; }
py=$(scripts/python_env.sh)
mkdir -p bench/out/web
"$py" bench/web/detect.py tune "$@"
"$py" bench/web/detect.py run --json bench/out/web/summary.json "$@"
