#!/usr/bin/env node
// The version check comes first and alone: everything else is imported only once it passed.
import { checkNode } from './node-check.ts';

/**
 * Commands whose memory is a target of their own (DESIGN.md, performance targets; the single
 * executable does the same in cli/sea/tune.ts): `node start`
 * runs for days, mostly idle (<= 100 MB; `npm run bench -- node-rss`), and `update download`
 * streams a whole package (peak <= 150 MB whatever its size; `npm run bench -- download`).
 * `update verify` is not one of them: its target is speed (`npm run bench -- verify`), the flag
 * and the restart cost it ~0.15 s of a 1 GiB run here, and its peak stays under 150 MB without.
 * V8 is told to favour size over speed before any module loads: smaller heap growth steps and
 * eager collection of the external (Buffer) memory that streaming churns through, about 20 MB less
 * at idle and 35-40 MB less at a 1 GiB download's peak, measured here. Their heavy work (hashing,
 * TLS, noise) is native, which the flag does not touch. Set here because the flag only shapes heap
 * growth from now on: once the command's modules have loaded it no longer helps.
 */
function pair(argv: readonly string[], a: string, b: string): boolean {
  const at = argv.indexOf(a);
  return at >= 0 && argv[at + 1] === b;
}

/** Where `npm run build` writes the bundle, beside this file's directory in dist/. */
const BUNDLE = new URL('../bundle/dchat.js', import.meta.url);

if (checkNode('dchat')) {
  const args = process.argv.slice(2);
  // Freed memory goes back to the system (activation/malloc-tuning.ts, a file without imports):
  // may restart in place.
  const m = await import('../activation/malloc-tuning.ts');
  const tuning = m.tuningFor(args);
  if (tuning) {
    m.execWithMallocTuning(tuning);
    (await import('node:v8')).setFlagsFromString('--optimize-for-size');
  }
  // `node start` runs the minified bundle `npm run build` writes (scripts/bundle-node.ts): a
  // node keeps the source of every module it loaded, and the bundle's is about half (7-8 MB
  // less resident). Nothing else has loaded yet; the bundle runs this file again, as itself.
  const bundled = (globalThis as { __dchatBundled?: boolean }).__dchatBundled === true;
  if (!bundled && pair(args, 'node', 'start') && (await bundleIsCurrent())) await import(BUNDLE.href);
  else await runCli(args);
}

/**
 * The bundle exists and is not older than this file: a dist/ rebuilt by tsc alone (a
 * developer's edit) runs as built, not through the bundle of an earlier build. npm packs both
 * with the same time.
 */
async function bundleIsCurrent(): Promise<boolean> {
  const { statSync } = await import('node:fs');
  const bundle = statSync(BUNDLE, { throwIfNoEntry: false });
  const self = statSync(new URL(import.meta.url), { throwIfNoEntry: false });
  return bundle !== undefined && self !== undefined && bundle.mtimeMs >= self.mtimeMs;
}

async function runCli(args: string[]): Promise<void> {
  // `update verify`: the package's hash starts before the CLI loads (./early-digest.ts).
  const early = pair(args, 'update', 'verify') ? await import('./early-digest.ts') : undefined;
  early?.startEarlyDigest(args, process.cwd());
  const { runBin } = await import('./compile-cache.ts');
  try {
    await runBin(async () => (await import('./dchat-program.ts')).buildDchat);
  } finally {
    early?.stopEarlyDigests();
  }
}
