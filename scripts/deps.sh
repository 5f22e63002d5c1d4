#!/usr/bin/env bash
# Installs the Debian packages samsa needs that are missing; does nothing
# when all are present. Used by `make run` and `make test` (and so by CI).
#   scripts/deps.sh build   packages to build and run
#   scripts/deps.sh test    plus the real clients the tests drive
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config librdkafka-dev libpq-dev libsqlite3-dev libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev
            zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev)
test_pkgs=(kcat python3 python3-kafka python3-confluent-kafka python3-psycopg2 python3-yaml
           python3-snappy python3-lz4 python3-zstandard nodejs npm postgresql util-linux strace lcov
           libfuse3-dev fuse3 clang-14 libclang-rt-14-dev openjdk-17-jdk-headless maven python3-venv openssl)

want=("${build_pkgs[@]}")
if [ "${1:-build}" = test ]; then
    want+=("${test_pkgs[@]}")
fi

missing=()
for p in "${want[@]}"; do
    # node may come from outside Debian (nodesource, a tarball): accept a working one
    if { [ "$p" = nodejs ] || [ "$p" = npm ]; } && command -v "${p/nodejs/node}" >/dev/null 2>&1; then
        continue
    fi
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
