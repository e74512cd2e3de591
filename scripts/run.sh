#!/usr/bin/env bash
# The main job: installs what is needed, builds, indexes this repository's
# documentation and sources into the default local database (~/.tea/vectors/, or
# $TEAVEC_DB) with the built-in hash embedder, and answers a query:
#   bash scripts/run.sh ["your question"]
# Rerunning embeds only the files that changed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build
build/teavec index docs README.md examples src include --collection teavec-docs
build/teavec search "${1:-commit a new table version: write the manifest only if absent}" \
	--collection teavec-docs -k 3 -n 4
