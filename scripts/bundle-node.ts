/**
 * Runs in `npm run build`, after tsc: bundles the CLI into dist/bundle/ (esbuild, ES modules with
 * code splitting, minified), which `dchat node start` runs (src/cli/dchat.ts). A node keeps the
 * source text of every module it loaded for as long as it runs (V8 compiles functions from it
 * lazily); minified and split by first use, that text is about half, and a node holding releases
 * is 108-110 MB resident instead of 115-117 MB, an idle one 88 instead of 96 MB (measured here,
 * `npm run bench -- node-rss`). Other commands run dist/ as tsc writes it.
 *
 * Each module's `import.meta.url` and `import.meta.dirname` are rewritten to its own file in
 * dist/, relative to the chunk that holds it (every chunk is in dist/bundle/), so workers and
 * assets found through them are dist's files and the bundle works wherever the package is
 * installed. Dependencies are bundled too, except the native addon and what is loaded by name at
 * run time; CommonJS dependencies get a `require` from the chunk's own place.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import * as esbuild from 'esbuild';

const root = resolve(import.meta.dirname, '..');
const out = join(root, 'dist', 'bundle');

/** The expression for a dist file's URL from inside a chunk of dist/bundle/. */
function distUrl(rel: string): string {
  return `new URL(${JSON.stringify(`../${rel}`)}, import.meta.url).href`;
}

const distPaths: esbuild.Plugin = {
  name: 'dist-paths',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      const rel = relative(root, args.path).split('\\').join('/');
      if (!rel.startsWith('src/')) return undefined;
      const distRel = rel.slice('src/'.length).replace(/\.ts$/, '.js');
      const dirRel = distRel.includes('/') ? distRel.slice(0, distRel.lastIndexOf('/')) : '.';
      const text = readFileSync(args.path, 'utf8')
        .replaceAll('import.meta.url', distUrl(distRel))
        .replaceAll(
          'import.meta.dirname',
          `require("node:path").join(import.meta.dirname, ${JSON.stringify(`../${dirRel}`)})`,
        );
      return { contents: text, loader: 'ts' };
    });
  },
};

rmSync(out, { recursive: true, force: true });
await esbuild.build({
  absWorkingDir: root,
  entryPoints: ['src/cli/dchat.ts'],
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  minify: true,
  // Error classes, commands and log fields are named by their code's names.
  keepNames: true,
  legalComments: 'eof',
  logLevel: 'warning',
  external: ['@napi-rs/blake-hash', 'esbuild', 'postject', 'webtorrent', 'bittorrent-tracker'],
  banner: {
    js: [
      "import { createRequire as __dchatRequire } from 'node:module';",
      'const require = __dchatRequire(import.meta.url);',
      // src/cli/dchat.ts: this process already runs the bundle.
      'globalThis.__dchatBundled = true;',
    ].join(' '),
  },
  plugins: [distPaths],
});
