/**
 * A registry on loopback for install tests: packuments made from package-lock.json (only what
 * dchat's own dependencies need, at their locked versions) and tarballs read from npm's content
 * cache, which `npm ci` filled. `npm install --registry URL` then installs offline and exactly what
 * the lockfile pins, without reaching the public registry (tests use loopback only).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

interface LockEntry {
  version: string;
  integrity?: string;
  dev?: boolean;
  link?: boolean;
  [k: string]: unknown;
}

const MANIFEST_FIELDS = [
  'dependencies',
  'optionalDependencies',
  'peerDependencies',
  'peerDependenciesMeta',
  'bin',
  'os',
  'cpu',
  'libc',
  'engines',
  'license',
];

function cacheFile(integrity: string, cache: string): string {
  const [algo, b64] = integrity.split('-') as [string, string];
  const hex = Buffer.from(b64, 'base64').toString('hex');
  return join(cache, 'content-v2', algo, hex.slice(0, 2), hex.slice(2, 4), hex.slice(4));
}

export interface LocalRegistry {
  url: string;
  close(): Promise<void>;
}

export async function startLocalRegistry(
  lockFile: string,
  cache = join(process.env.npm_config_cache ?? join(homedir(), '.npm'), '_cacache'),
): Promise<LocalRegistry> {
  const lock = JSON.parse(readFileSync(lockFile, 'utf8')) as { packages: Record<string, LockEntry> };
  // The public registry holds every version a range can ask for; this one only the locked ones.
  // Where package.json `overrides` pinned a dependency below another package's range (webtorrent's
  // WebRTC polyfill asks for node-datachannel ^0.32, we pin 0.33, which the public registry's 0.32
  // would also satisfy for an installer), the packuments say the pinned range, so the offline
  // install resolves to the locked version instead of one this registry cannot have.
  const overrides =
    (
      JSON.parse(readFileSync(join(dirname(lockFile), 'package.json'), 'utf8')) as {
        overrides?: Record<string, string>;
      }
    ).overrides ?? {};
  const packuments = new Map<
    string,
    { name: string; versions: Record<string, unknown>; 'dist-tags': Record<string, string> }
  >();
  const tarballs = new Map<string, string>();
  let base = '';
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (!key || entry.dev || entry.link || !entry.integrity) continue;
    const name = key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const p = packuments.get(name) ?? { name, versions: {}, 'dist-tags': {} };
    const file = `${name.replace('/', '__')}-${entry.version}.tgz`;
    const manifest: Record<string, unknown> = { name, version: entry.version };
    for (const f of MANIFEST_FIELDS) if (entry[f] !== undefined) manifest[f] = entry[f];
    const deps = manifest.dependencies as Record<string, string> | undefined;
    if (deps)
      manifest.dependencies = Object.fromEntries(
        Object.entries(deps).map(([n, r]) => [n, overrides[n] ?? r]),
      );
    manifest.dist = { tarball: `@BASE@/-/${file}`, integrity: entry.integrity };
    p.versions[entry.version] = manifest;
    p['dist-tags'].latest = entry.version;
    packuments.set(name, p);
    tarballs.set(file, cacheFile(entry.integrity, cache));
  }
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0] as string).slice(1);
    if (path.startsWith('-/')) {
      const f = tarballs.get(path.slice(2));
      if (f && existsSync(f)) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(readFileSync(f));
        return;
      }
    } else {
      const p = packuments.get(path);
      if (p) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(p).replaceAll('@BASE@', base));
        return;
      }
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":"not found"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}/`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
