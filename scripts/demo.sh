#!/usr/bin/env bash
# One command from a fresh clone to alerts: installs what is missing, builds
# Release, runs the embedded default topology on the bundled sample.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/build.sh build >/dev/null
exec build/socstream run config/default.yaml "$@"
