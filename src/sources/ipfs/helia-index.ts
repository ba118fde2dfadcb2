/**
 * helia's index, for the single executable only (./helia.ts): bundled by esbuild, which keeps just
 * `createHeliaLight` of it (a named import of a package without side effects), so the executable
 * carries none of the libp2p default stack the index's `createHelia` would pull in. Under plain
 * Node this module is not loaded (it would load that whole stack).
 */
export { createHeliaLight } from 'helia';
