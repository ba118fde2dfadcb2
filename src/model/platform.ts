import { isValidVersion } from './version.ts';

/** Platforms look like "linux-x64", "windows-x64", "darwin-arm64", "android-arm64", "source". */
export const PLATFORM_RE = /^[a-z][a-z0-9]*(?:-[a-z0-9_]+){0,3}$/;

/** First segment of a platform name; lets us split "dchat-1.0.0-rc.1-linux-x64" unambiguously. */
const KNOWN_OS = [
  'linux',
  'windows',
  'darwin',
  'macos',
  'android',
  'ios',
  'freebsd',
  'openbsd',
  'netbsd',
  'source',
  'docker',
  'any',
  'wasm',
];

export function isValidPlatform(p: string): boolean {
  return p.length <= 64 && PLATFORM_RE.test(p);
}

/** The platform of a Node process, in dchat's naming (pass process.platform, process.arch). */
export function hostPlatform(platform: string, arch: string): string {
  return `${platform === 'win32' ? 'windows' : platform}-${arch}`;
}

/** TUF target path and file name of a package. */
export function packageName(version: string, platform: string): string {
  return `dchat-${version}-${platform}`;
}

const EXTENSIONS = ['.sig', '.tar.gz', '.tgz', '.zip', '.exe', '.apk', '.tar', '.gz', '.zst', '.bin'];

/**
 * Splits a file name `dchat-<version>-<platform>[.ext]` (seed convention) into its parts, or
 * returns undefined. The platform starts at the last known OS segment; the rest is the version.
 */
export function parsePackageName(fileName: string): { version: string; platform: string } | undefined {
  let base = fileName;
  for (const ext of EXTENSIONS) {
    if (base.endsWith(ext)) {
      base = base.slice(0, -ext.length);
      break;
    }
  }
  if (!base.startsWith('dchat-')) return undefined;
  const rest = base.slice('dchat-'.length);
  const parts = rest.split('-');
  for (let i = parts.length - 1; i >= 1; i--) {
    if (!KNOWN_OS.includes(parts[i] as string)) continue;
    const version = parts.slice(0, i).join('-');
    const platform = parts.slice(i).join('-');
    if (isValidVersion(version) && isValidPlatform(platform)) return { version, platform };
  }
  // Unknown OS: assume a two-segment platform "os-arch".
  if (parts.length >= 3) {
    const version = parts.slice(0, -2).join('-');
    const platform = parts.slice(-2).join('-');
    if (isValidVersion(version) && isValidPlatform(platform)) return { version, platform };
  }
  return undefined;
}
