#!/usr/bin/env bash
# The whole test suite, as CI runs it (after `npm ci`): system tools, build, lint, types, tests.
# Ends by printing the suite's wall time (also when a step fails), to watch it not creep up.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s%N)
wall() {
  local rc=$? ms=$((($(date +%s%N) - started) / 1000000))
  printf '== suite wall time: %d.%03d s (exit %d)\n' $((ms / 1000)) $((ms % 1000)) "$rc"
}
trap wall EXIT
bash scripts/setup-system.sh
echo "== node $(node --version) (pinned devDependency)"
npm run --silent build
npx biome check src test scripts bench
npx tsc -p tsconfig.json
echo "== tests"
node --test --test-concurrency=2 --test-timeout=300000 --test-reporter=spec "test/**/*.test.ts"
# End-to-end runs whose assertion is timing itself (every node switches at the same block height)
# run alone afterwards, not beside the rest of the suite on a 2-core machine.
echo "== end-to-end tests (one at a time)"
node --test --test-concurrency=1 --test-timeout=600000 --test-reporter=spec "test/**/*.e2e.ts"
