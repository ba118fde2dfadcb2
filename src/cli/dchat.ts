#!/usr/bin/env node
// The version check comes first and alone: everything else is imported only once it passed.
import { checkNode } from './node-check.ts';

/**
 * `dchat ... node start` runs for days, mostly idle: V8 is told to favour size over speed before
 * any module loads (mostly a young generation that stays small instead of growing to 16 MiB
 * semi-spaces), about 20 MB less resident at idle (DESIGN.md, performance targets: idle node
 * <= 100 MB; `npm run bench -- node-rss`). Its heavy work (hashing, TLS, noise) is native, which
 * the flag does not touch. Set here because the flag only shapes heap growth from now on: in the
 * command itself, after libp2p has loaded, it no longer helps.
 */
function isNodeStart(argv: readonly string[]): boolean {
  const at = argv.indexOf('node');
  return at >= 0 && argv[at + 1] === 'start';
}

if (checkNode('dchat')) {
  if (isNodeStart(process.argv.slice(2))) (await import('node:v8')).setFlagsFromString('--optimize-for-size');
  const { runBin } = await import('./compile-cache.ts');
  await runBin(async () => (await import('./dchat-program.ts')).buildDchat);
}
