#!/usr/bin/env bash
# Runs the main job (see tools/demo.ts) with the pinned Deno; `--no-tor` runs it without tor.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node_modules/@deno/linux-x64-glibc/deno run --unstable-net --allow-all tools/demo.ts "$@"
