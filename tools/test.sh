#!/usr/bin/env bash
# Runs every test suite (unit, fuzz, interop, end-to-end) and ends with "N passed, N failed, N ignored"
# (under CI, env CI set, any ignored test fails the run).
# Extra arguments go to `deno test` (e.g. --filter "codec:").
set -uo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
DENO=node_modules/@deno/linux-x64-glibc/deno
export PATH="$PWD/node_modules/@deno/linux-x64-glibc:$PATH"
log=$(mktemp)
if "$DENO" task check >"$log.check" 2>&1; then checked=0; else checked=1; cat "$log.check"; echo "type check failed"; fi
"$DENO" test --unstable-net --allow-all "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
bash tools/test_summary.sh "$log" "$rc" "$checked"
