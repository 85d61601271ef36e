#!/usr/bin/env bash
# Reads a `deno test` log and prints "N passed, N failed, N ignored".
# Usage: test_summary.sh LOG EXIT_CODE CHECK_FAILED
# Fails when a test failed, deno test or the type check failed, or (under CI, env CI set
# and not empty) when any test was ignored: CI must run everything.
set -uo pipefail
log=$1 rc=$2 check_failed=$3
summary=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -aE '^(ok|FAILED) \| [0-9]+ passed' | tail -1)
count() { sed -nE "s/.*\| ([0-9]+) $1.*/\1/p" <<<"$summary"; }
passed=$(count passed) failed=$(count failed) ignored=$(count ignored)
passed=${passed:-0} failed=${failed:-0} ignored=${ignored:-0}
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
if [ "$check_failed" -ne 0 ]; then failed=$((failed + 1)); fi
echo "$passed passed, $failed failed, $ignored ignored"
if [ -n "${CI:-}" ] && [ "$ignored" -gt 0 ]; then
  echo "CI: $ignored tests were ignored; every test must run under CI"
  exit 1
fi
[ "$failed" -eq 0 ]
