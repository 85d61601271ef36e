#!/usr/bin/env bash
# Runs every test suite (unit, fuzz, interop, end-to-end) and ends with "N passed, N failed".
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
summary=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -aE '^(ok|FAILED) \| [0-9]+ passed' | tail -1)
passed=$(sed -nE 's/.*\| ([0-9]+) passed.*/\1/p' <<<"$summary")
failed=$(sed -nE 's/.*\| ([0-9]+) failed.*/\1/p' <<<"$summary")
passed=${passed:-0}; failed=${failed:-0}
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
if [ "$checked" -ne 0 ]; then failed=$((failed + 1)); fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
