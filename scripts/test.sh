#!/usr/bin/env bash
# The whole test suite, as CI runs it (after `npm ci`): system tools, build, lint, types, tests.
# Ends by printing the suite's wall time (also when a step fails), to watch it not creep up.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s%N)
wall() {
  local rc=$? ms=$((($(date +%s%N) - started) / 1000000))
  if [ -n "${DCHAT_TEST_BUILDS:-}" ]; then rm -rf "$DCHAT_TEST_BUILDS"; fi
  printf '== suite wall time: %d.%03d s (exit %d)\n' $((ms / 1000)) $((ms % 1000)) "$rc"
}
trap wall EXIT
bash scripts/setup-system.sh
echo "== node $(node --version) (pinned devDependency)"
npm run --silent build
npx biome check src test scripts bench
npx tsc -p tsconfig.json
# Release builds made once for the whole run and shared by the test files that need them.
DCHAT_TEST_BUILDS=$(mktemp -d "${TMPDIR:-/tmp}/dchat-test-builds-XXXXXX")
export DCHAT_TEST_BUILDS
# The end-to-end files (test/**/*.e2e.ts: whole testnets that mostly wait on voting periods,
# block heights or a 60 s partition, and the delta update between two real 130 MB builds) run
# beside the suite, their output kept apart and printed after it; the switch
# itself goes by the height schedule (activation/schedule/due-height.ts), so a busy neighbour does
# not move it.
e2e_log=$(mktemp "${TMPDIR:-/tmp}/dchat-e2e-XXXXXX.log")
echo "== end-to-end tests (in the background, output below the suite's)"
node --test --test-concurrency=1 --test-timeout=900000 --test-reporter=spec "test/**/*.e2e.ts" >"$e2e_log" 2>&1 &
e2e_pid=$!
echo "== tests"
suite_rc=0
node --test --test-concurrency=2 --test-timeout=300000 --test-reporter=spec "test/**/*.test.ts" || suite_rc=$?
e2e_rc=0
wait "$e2e_pid" || e2e_rc=$?
echo "== end-to-end tests (exit $e2e_rc)"
cat "$e2e_log"
rm -f "$e2e_log"
if [ "$suite_rc" -ne 0 ] || [ "$e2e_rc" -ne 0 ]; then exit 1; fi
