#!/usr/bin/env bash
# The whole test suite, as CI runs it (after `npm ci`): system tools, build, lint, types, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
echo "== node $(node --version) (pinned devDependency)"
npm run --silent build
npx biome check src test scripts bench
npx tsc -p tsconfig.json
echo "== tests"
node --test --test-concurrency=2 --test-timeout=300000 --test-reporter=spec "test/**/*.test.ts"
