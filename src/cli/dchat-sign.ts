#!/usr/bin/env node
// The version check comes first and alone: everything else is imported only once it passed.
import { checkNode } from './node-check.ts';

if (checkNode('dchat-sign')) {
  const { runBin } = await import('./compile-cache.ts');
  await runBin(async () => (await import('./sign-program.ts')).buildDchatSign);
}
