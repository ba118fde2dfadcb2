#!/usr/bin/env node
// The version check comes first and alone: everything else is imported only once it passed.
import { checkNode } from './node-check.ts';

if (checkNode('dchat-test')) {
  const { runBin } = await import('./compile-cache.ts');
  await runBin(async () => (await import('./test-program.ts')).buildDchatTest);
}
