#!/usr/bin/env bash
# Installs every Debian package socstream needs to build, test and benchmark.
# Idempotent: when everything is present it only runs dpkg queries (well under a second).
# clang, llvm (llvm-symbolizer) and libclang-rt-14-dev (libFuzzer and the sanitizer runtimes, only a
# recommendation of clang, which --no-install-recommends below skips) build and run tests/fuzz.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  librdkafka-dev libre2-dev libsimdjson-dev libvectorscan-dev
  libboost-dev libboost-program-options-dev
  libspdlog-dev libfmt-dev libhiredis-dev libyaml-cpp-dev libicu-dev
  libtorch-dev libopenblas0-openmp
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  clang llvm libclang-rt-14-dev
  python3 python3-yaml jq
  redis-server redis-tools kcat default-jre-headless maven
)

missing=()
for p in "${PACKAGES[@]}"; do
  # dpkg -s reports "install ok installed" only for fully configured packages.
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "bootstrap: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "bootstrap: done" >&2
