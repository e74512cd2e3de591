#!/usr/bin/env bash
# The main job: installs what is needed, builds, and runs teavec on its
# embedded default (built-in hash embedder), printing the final state.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build
exec build/teavec run examples/demo.yaml "$@"
