#!/usr/bin/env bash
# Installs every build and test dependency of teavec from Debian packages
# (and, with --npm, the npm packages the interoperability tests and the
# benchmark use; with --bench, also the benchmark's dataset package).
# Idempotent: packages already present are not reinstalled.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PKGS=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libjansson-dev libyaml-dev libprotobuf-c-dev protobuf-c-compiler
  libroaring-dev libzstd-dev libcurl4-openssl-dev libssl-dev libopenblas-dev jq strace
)
# Node.js (with its npm) may come from another packaging than Debian's; only
# install Debian's when no node is present.
command -v node >/dev/null 2>&1 || DEB_PKGS+=(nodejs npm)
NPM=""
for a in "$@"; do
  case $a in
  --npm) NPM=1 ;;
  --bench) NPM=1; DEB_PKGS+=(dataset-fashion-mnist) ;;
  *) echo "usage: scripts/setup.sh [--npm] [--bench]" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${DEB_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ -n "$NPM" ]; then
  # LanceDB (the interoperability peer and benchmark opponent) and the object
  # storage emulators, into a git-ignored folder of the project.
  mkdir -p .deps/node
  if [ ! -f .deps/node/.installed-v1 ]; then
    (cd .deps/node && [ -f package.json ] || echo '{"name":"teavec-deps","private":true}' > package.json)
    (cd .deps/node && npm install --no-audit --no-fund --loglevel=error \
        @lancedb/lancedb@0.39.0 apache-arrow@18.1.0 \
        @20minutes/s3rver@4.0.4 azurite@3.35.0)
    touch .deps/node/.installed-v1
  fi
fi
