/**
 * `dchat release build`: one self-contained executable of dchat per platform, a Node single
 * executable application (SEA), built deterministically so that anyone can rebuild a published
 * release from its source and get the same bytes (spec/CLI.md "Release side").
 *
 * Recipe (docs/architecture.md "Packaging"): esbuild bundles the CLI to one CommonJS file (a SEA
 * main must be CommonJS on Node 24); the native BLAKE3 addon, the two worker bundles and the
 * default root become SEA assets (sea/extract.ts writes them out on first use); the pinned Node
 * binary of the source checkout (the `node` devDependency) makes the preparation blob and receives
 * it through postject. Deterministic by construction: no code cache and no snapshot (both embed
 * per-process randomness), a relative `main` (stored verbatim), relative paths in the bundle,
 * `execArgvExtension: none` (NODE_OPTIONS cannot change what the binary does), the output's mtime
 * from SOURCE_DATE_EPOCH when given. Never strip the result (the injected section would break).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { chmod, open, rename, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { blake3Hex } from '../crypto/hash.ts';
import { DASHBOARD_PAGE_FILES, UPLOT_FILES } from '../dashboard/assets.ts';
import { DchatError, UsageError } from '../errors.ts';
import { BUILD_INFO_FORMAT, type BuildInfo } from '../model/build-info.ts';
import { hostPlatform } from '../model/platform.ts';
import { buildProvenance } from './build-provenance.ts';

/**
 * Where the SEA's blob goes in the Node binary (Node's documented fuse). Assembled at run time:
 * this module is itself part of the bundle, and postject refuses a binary holding the literal twice.
 */
const SEA_FUSE = ['NODE', 'SEA', 'FUSE', 'fce680ab2cc467b6e072b8b5df1996b2'].join('_');

/** Worker entry points, bundled on their own (Worker takes a path): dist-relative output names. */
const WORKERS: Record<string, string> = {
  'src/crypto/digest-worker.ts': 'dist/crypto/digest-worker.js',
  'src/store/file-digest-worker.ts': 'dist/store/file-digest-worker.js',
};

/** dchat platform -> the @napi-rs/blake-hash package and file holding its addon. */
const ADDONS: Record<string, { pkg: string; file: string }> = {
  'linux-x64': { pkg: '@napi-rs/blake-hash-linux-x64-gnu', file: 'blake.linux-x64-gnu.node' },
  'linux-arm64': { pkg: '@napi-rs/blake-hash-linux-arm64-gnu', file: 'blake.linux-arm64-gnu.node' },
  'darwin-x64': { pkg: '@napi-rs/blake-hash-darwin-x64', file: 'blake.darwin-x64.node' },
  'darwin-arm64': { pkg: '@napi-rs/blake-hash-darwin-arm64', file: 'blake.darwin-arm64.node' },
  'windows-x64': { pkg: '@napi-rs/blake-hash-win32-x64-msvc', file: 'blake.win32-x64-msvc.node' },
};

export interface BuildOptions {
  /** A dchat source checkout with its dependencies installed (`npm ci`). */
  source: string;
  out: string;
  /** Default: this machine's platform (the only one buildable today, see below). */
  platform?: string;
  /** Version stamped into the executable; default: the source's package.json version. */
  version?: string;
  /** The Node binary to turn into dchat; default: the source's pinned `node` devDependency. */
  nodeBinary?: string;
  /**
   * Seconds since the epoch for the output's mtime (reproducible archives of it); default: the
   * source commit's time (reproducible-builds.org SOURCE_DATE_EPOCH).
   */
  sourceDateEpoch?: number;
  /** A test build whose node never reports healthy (cli/version.ts NEVER_HEALTHY). */
  testNeverHealthy?: boolean;
  /** Also write `<out>.buildinfo.json` (release publish records it); default true. */
  writeBuildInfo?: boolean;
}

export interface BuildResult {
  out: string;
  platform: string;
  version: string;
  nodeVersion: string;
  size: number;
  sha256: string;
  blake3: string;
  /** Source commit, SOURCE_DATE_EPOCH and toolchain identity, as published in `custom.build`. */
  info: BuildInfo;
  /** Names of the embedded assets (sea-layout.ts compares packages part by part with them). */
  assets: string[];
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Tools the build needs, loaded from the running dchat's dependencies only when it builds. */
async function tools() {
  try {
    const esbuild = await import('esbuild');
    // postject ships no types: its one function is typed here.
    const postject: string = 'postject';
    const { inject } = (await import(postject)) as {
      inject: (file: string, name: string, data: Buffer, o: { sentinelFuse: string }) => Promise<void>;
    };
    return { esbuild, inject };
  } catch (err) {
    throw new DchatError(
      'E_NOT_FOUND',
      'release build needs esbuild and postject: run it from a dchat checkout or npm installation, not the single executable',
      { cause: err },
    );
  }
}

function sourcePaths(o: BuildOptions, platform: string) {
  const source = resolve(o.source);
  const pkgFile = join(source, 'package.json');
  if (!existsSync(pkgFile) || !existsSync(join(source, 'src', 'cli', 'sea', 'main.ts')))
    throw new UsageError('--source', `${source} is not a dchat source checkout (no src/cli/sea/main.ts)`);
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { name?: string; version?: string };
  if (pkg.name !== 'dchat') throw new UsageError('--source', `${pkgFile} is not dchat's package.json`);
  const addon = ADDONS[platform];
  if (!addon) throw new UsageError('--platform', `no native BLAKE3 addon known for '${platform}'`);
  const addonFile = join(source, 'node_modules', addon.pkg, addon.file);
  const nodeBinary = resolve(o.nodeBinary ?? join(source, 'node_modules', 'node', 'bin', 'node'));
  for (const [what, p] of [
    ['the BLAKE3 addon', addonFile],
    ['the pinned Node binary', nodeBinary],
  ] as const)
    if (!existsSync(p))
      throw new DchatError('E_NOT_FOUND', `${what} is missing at ${p} (run \`npm ci\` in ${source})`);
  return { source, pkgVersion: pkg.version ?? '0.0.0', addonFile, nodeBinary };
}

export async function buildExecutable(o: BuildOptions): Promise<BuildResult> {
  const host = hostPlatform(process.platform, process.arch);
  const platform = o.platform ?? host;
  // The preparation blob must be made by the very Node binary it goes into, so that binary has to
  // run here: other platforms need a machine of their own (or emulation) today.
  if (platform !== host)
    throw new UsageError(
      '--platform',
      `'${platform}' cannot be built on ${host}: build it on a ${platform} machine`,
    );
  const src = sourcePaths(o, platform);
  const version = o.version ?? src.pkgVersion;
  const nodeVersion = execFileSync(src.nodeBinary, ['--version'], { encoding: 'utf8', env: {} }).trim();
  if (Number(nodeVersion.replace(/^v/, '').split('.')[0]) < 24)
    throw new UsageError(
      '--node-binary',
      `${src.nodeBinary} is Node ${nodeVersion}; the executable needs >= 24`,
    );
  const { esbuild, inject } = await tools();
  const provenance = buildProvenance(src.source, src.nodeBinary, nodeVersion, o.sourceDateEpoch);
  const epoch = provenance.source_date_epoch;

  const work = mkdtempSync(join(tmpdir(), 'dchat-build-'));
  try {
    const files: Record<string, Uint8Array> = {};
    files['blake.node'] = readFileSync(src.addonFile);
    files['package.json'] = Buffer.from('{"type":"commonjs"}\n');
    files['assets/default-root.json'] = readFileSync(join(src.source, 'assets', 'default-root.json'));
    // The dashboard (`node start --dashboard`): its page and uPlot, served from the extracted files.
    for (const [rel, file] of dashboardFiles(src.source)) files[rel] = readFileSync(file);
    const common = {
      bundle: true,
      platform: 'node' as const,
      format: 'cjs' as const,
      target: 'node24',
      absWorkingDir: src.source,
      write: false,
      logLevel: 'silent' as const,
      legalComments: 'eof' as const,
      charset: 'utf8' as const,
      external: ['esbuild', 'postject'],
      plugins: [seaPlugin(src.source, version, Boolean(o.testNeverHealthy))],
    };
    for (const [entry, outName] of Object.entries(WORKERS)) {
      // A worker finds the extraction root from its own place in it.
      const up = relative(dirname(outName), '.') || '.';
      const r = await esbuild.build({
        ...common,
        entryPoints: [entry],
        banner: {
          js: `globalThis.__dchatSeaRoot ??= require("node:path").resolve(__dirname, ${JSON.stringify(up)});\n${MODULE_URL_FN}`,
        },
      });
      files[outName] = outputOf(r, entry);
    }
    const manifestFiles = Object.fromEntries(
      Object.keys(files)
        .sort()
        .map((k) => [k, sha256(files[k] as Uint8Array)]),
    );
    const manifest = {
      id: sha256(Buffer.from(JSON.stringify(manifestFiles))).slice(0, 32),
      files: manifestFiles,
    };
    const main = await esbuild.build({
      ...common,
      entryPoints: ['src/cli/sea/main.ts'],
      define: { __DCHAT_SEA_MANIFEST__: JSON.stringify(manifest) },
      banner: { js: MODULE_URL_FN },
    });
    writeFileSync(join(work, 'dchat.cjs'), outputOf(main, 'src/cli/sea/main.ts'));
    const assets: Record<string, string> = {};
    for (const [rel, bytes] of Object.entries(files)) {
      const p = join(work, 'assets-in', rel);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, bytes);
      assets[rel] = `assets-in/${rel}`;
    }
    const config = {
      main: 'dchat.cjs',
      output: 'sea-prep.blob',
      disableExperimentalSEAWarning: true,
      useSnapshot: false,
      useCodeCache: false,
      execArgvExtension: 'none',
      assets,
    };
    writeFileSync(join(work, 'sea-config.json'), `${JSON.stringify(config, null, 2)}\n`);
    try {
      execFileSync(src.nodeBinary, ['--experimental-sea-config', 'sea-config.json'], {
        cwd: work,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (err) {
      const e = err as { stderr?: Buffer };
      throw new DchatError(
        'E_INTERNAL',
        `node --experimental-sea-config failed: ${String(e.stderr ?? '').trim()}`,
        {
          cause: err,
        },
      );
    }
    const out = resolve(o.out);
    mkdirSync(dirname(out), { recursive: true });
    const tmpOut = join(work, 'dchat.out');
    copyFileSync(src.nodeBinary, tmpOut);
    const blob = readFileSync(join(work, 'sea-prep.blob'));
    await quietly(() => inject(tmpOut, 'NODE_SEA_BLOB', blob, { sentinelFuse: SEA_FUSE }));
    await chmod(tmpOut, 0o755);
    const bytes = readFileSync(tmpOut);
    const info: BuildInfo = {
      format: BUILD_INFO_FORMAT,
      version,
      platform,
      size: bytes.length,
      sha256: sha256(bytes),
      ...provenance,
    };
    if (o.writeBuildInfo !== false) {
      const infoStaged = `${out}.buildinfo.json.tmp-${process.pid}`;
      writeFileSync(infoStaged, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o644 });
      await utimes(infoStaged, epoch, epoch);
      await rename(infoStaged, `${out}.buildinfo.json`);
    }
    const staged = `${out}.tmp-${process.pid}`;
    copyFileSync(tmpOut, staged);
    await utimes(staged, epoch, epoch);
    await chmod(staged, 0o755);
    const fh = await open(staged, 'r+');
    await fh.sync();
    await fh.close();
    await rename(staged, out);
    return {
      out,
      platform,
      version,
      nodeVersion,
      size: bytes.length,
      sha256: info.sha256,
      blake3: blake3Hex(bytes),
      info,
      assets: Object.keys(files).sort(),
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function outputOf(r: { outputFiles?: { contents: Uint8Array }[] }, entry: string): Uint8Array {
  const f = r.outputFiles?.[0];
  if (!f) throw new DchatError('E_INTERNAL', `esbuild produced nothing for ${entry}`);
  return f.contents;
}

/**
 * postject's LIEF prints harmless ELF notes warnings through console.warn; they are shown only if
 * the injection fails.
 */
async function quietly(fn: () => Promise<void>): Promise<void> {
  const warn = console.warn;
  const write = process.stderr.write;
  const said: string[] = [];
  console.warn = (...a: unknown[]) => void said.push(a.join(' '));
  process.stderr.write = ((chunk: string | Uint8Array) => {
    said.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    await fn();
  } catch (err) {
    throw new DchatError(
      'E_INTERNAL',
      `postject failed: ${(err as Error).message} ${said.join(' ').trim()}`,
      {
        cause: err,
      },
    );
  } finally {
    console.warn = warn;
    process.stderr.write = write;
  }
}

/**
 * In the bundle each module's `import.meta.url` becomes the URL its file would have in the
 * extraction root (`dist/<path>.js`), so `new URL('./digest-worker.js', import.meta.url)` and
 * `new URL('../../assets/default-root.json', import.meta.url)` point at the extracted files.
 */
const MODULE_URL_FN =
  'var __dchatModuleUrl = (rel) => require("node:url").pathToFileURL(require("node:path").join(globalThis.__dchatSeaRoot, rel)).href;';

type Plugin = import('esbuild').Plugin;

function seaPlugin(source: string, version: string, neverHealthy: boolean): Plugin {
  return {
    name: 'dchat-sea',
    setup(b) {
      b.onResolve({ filter: /^@napi-rs\/blake-hash$/ }, () => ({
        path: join(source, 'src/cli/sea/blake-hash.ts'),
      }));
      b.onLoad({ filter: /\.ts$/ }, (args) => {
        const rel = relative(source, args.path).split('\\').join('/');
        if (!rel.startsWith('src/')) return undefined;
        let text = readFileSync(args.path, 'utf8');
        if (rel === 'src/cli/version.ts')
          text = `export const VERSION: string = ${JSON.stringify(version)};\nexport const NEVER_HEALTHY: boolean = ${neverHealthy};\n`;
        const distRel = `dist/${rel.slice('src/'.length).replace(/\.ts$/, '.js')}`;
        text = text.replaceAll('import.meta.url', `__dchatModuleUrl(${JSON.stringify(distRel)})`);
        return { contents: text, loader: 'ts' };
      });
    },
  };
}

/**
 * The dashboard's static files as SEA assets (dashboard/assets.ts reads them from the extraction
 * root in a single executable): the page from assets/dashboard/, uPlot from the checkout's
 * node_modules (the version package-lock pins).
 */
export function dashboardFiles(source: string): [string, string][] {
  const out: [string, string][] = [];
  for (const name of DASHBOARD_PAGE_FILES)
    out.push([`assets/dashboard/${name}`, join(source, 'assets', 'dashboard', name)]);
  for (const name of UPLOT_FILES)
    out.push([`assets/uplot/${name}`, join(source, 'node_modules', 'uplot', 'dist', name)]);
  for (const [, file] of out)
    if (!existsSync(file))
      throw new DchatError('E_NOT_FOUND', `${file} is missing (run \`npm ci\` in ${source})`);
  return out;
}

/** `--version-stamp` default and check: SOURCE_DATE_EPOCH as given to reproducible builds. */
export function sourceDateEpoch(env: NodeJS.ProcessEnv): number | undefined {
  const v = env.SOURCE_DATE_EPOCH;
  if (v === undefined || v === '') return undefined;
  if (!/^\d{1,12}$/.test(v))
    throw new DchatError('E_CONFIG', `SOURCE_DATE_EPOCH: '${v.slice(0, 40)}' is not seconds since 1970`);
  return Number(v);
}
