/**
 * Must be the single executable's first import: modules of the bundle read
 * `globalThis.__dchatSeaRoot` while they initialise (release/build.ts rewrites their
 * `import.meta.url` to paths under it), so the getter exists before any of them runs. The files
 * are extracted only when first asked for.
 */
import { getAsset, isSea } from 'node:sea';
import { homeFromArgv } from '../compile-cache.ts';
import { extractSeaFiles, type SeaManifest } from './extract.ts';

declare const __DCHAT_SEA_MANIFEST__: SeaManifest;

if (isSea()) {
  let root: string | undefined;
  Object.defineProperty(globalThis, '__dchatSeaRoot', {
    get: () => {
      root ??= extractSeaFiles(
        homeFromArgv(process.argv.slice(2), process.env, process.cwd()),
        __DCHAT_SEA_MANIFEST__,
        getAsset,
      );
      return root;
    },
  });
}
