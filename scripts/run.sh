#!/usr/bin/env bash
# The main job: installs what is needed, builds, and runs teavec on its
# embedded default (built-in embedder, local database).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build
exec build/teavec demo "$@"
