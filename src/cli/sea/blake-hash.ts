/**
 * Stands in for `@napi-rs/blake-hash` inside the single executable (release/build.ts maps the
 * package here). A native addon cannot be `require`d from inside a SEA, so the build embeds the
 * .node file as an asset; sea/extract.ts writes it once into the data directory, keyed by its hash,
 * and this module `process.dlopen`s it. Workers (their own bundles on disk beside the addon) find
 * the same root through the banner the build gives them.
 */
import { join } from 'node:path';

interface BlakeBinding {
  Blake3Hasher: typeof import('@napi-rs/blake-hash').Blake3Hasher;
  blake3: typeof import('@napi-rs/blake-hash').blake3;
}

const root = (globalThis as { __dchatSeaRoot?: string }).__dchatSeaRoot;
if (root === undefined) throw new Error('dchat single executable: extraction root not set');
const mod = { exports: {} as BlakeBinding };
process.dlopen(mod, join(root, 'blake.node'));

export const Blake3Hasher = mod.exports.Blake3Hasher;
export const blake3 = mod.exports.blake3;
