/**
 * An F-Droid repository as a Source (seed source_type FDroid) for APK packages (package_type APK).
 * The mirror URL is the repository URL with the pinned key, in F-Droid's own form:
 *   https://HOST/fdroid/repo?fingerprint=SHA256-OF-THE-REPOSITORY-SIGNING-CERTIFICATE
 * (`update add-mirror --mirror-type fdroid --url URL --fingerprint HEX` writes it).
 * - Package bytes: the signed index (entry.jar + index-v2.json, else index-v1.jar; see
 *   fdroid-index.ts) is verified against the pinned key; the APK whose versionName is the wanted
 *   version and whose SHA-256 is the one dchat's signed target names is fetched by range from the
 *   path the index gives. An index that lists the version with another file is E_NOT_FOUND here:
 *   nothing unsigned by dchat's TUF keys is ever taken.
 * - TUF metadata, chunk tables (and rebuild attestations): F-Droid has no place for them, so they are read from a dchat
 *   mirror directory (what `release publish --out` writes, or its metadata/ and packages/*.chunks)
 *   placed at `<repository URL>/dchat/`. A repository without it still serves bytes to downloads
 *   that take metadata from the other mirrors.
 * Redirects and proxies as every web source (http-client.ts).
 */
import { DchatError, SourceError } from '../errors.ts';
import { isAllowedMirrorUrl } from '../model/loopback.ts';
import type { PackageTarget } from '../model/package.ts';
import { parsePackageName } from '../model/platform.ts';
import {
  apksFromV1,
  apksFromV2,
  type FdroidApk,
  MAX_INDEX_BYTES,
  parseEntry,
  requireFingerprint,
  verifiedJarEntry,
} from './fdroid-index.ts';
import { HttpClient, type HttpClientOptions, httpError } from './http-client.ts';
import { HttpsSource, rangeBody } from './https.ts';
import { collectRange, type FetchOptions, type RangeRequest, type Source } from './source.ts';

/** dchat's Android application id in F-Droid indexes. */
export const DCHAT_APP_ID = 'network.dchat.app';
const JAR_BYTES = 40 * 1024 * 1024;
/** The index is read again after this long (a node's registry lives longer than a command). */
const INDEX_TTL_MS = 60_000;

export interface FdroidSourceOptions extends HttpClientOptions {
  /** Repository URL with `?fingerprint=HEX`. */
  url: string;
  id?: string;
  /** Application id to look up (default network.dchat.app). */
  app?: string;
}

/** The repository base URL and pinned fingerprint of an F-Droid mirror URL. */
export function parseFdroidUrl(raw: string): { base: string; fingerprint: string; uri: string } {
  let u: URL;
  try {
    u = new URL(raw);
  } catch (cause) {
    throw new DchatError('E_CONFIG', `F-Droid URL '${raw.slice(0, 200)}' is not a URL`, { cause });
  }
  if (!isAllowedMirrorUrl(u))
    throw new DchatError('E_CONFIG', `F-Droid URL ${u.origin} is not https:// (plain http only on loopback)`);
  if (u.username || u.password || u.hash || [...u.searchParams.keys()].some((k) => k !== 'fingerprint'))
    throw new DchatError('E_CONFIG', `F-Droid URL ${u.origin}: only ?fingerprint= may follow the path`);
  const fingerprint = requireFingerprint(u.searchParams.get('fingerprint'), `${u.origin}${u.pathname}`);
  const base = `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
  return { base, fingerprint, uri: `${base}?fingerprint=${fingerprint}` };
}

export class FdroidSource implements Source {
  readonly id: string;
  readonly type = 'fdroid' as const;
  readonly uri: string;
  private readonly base: URL;
  private readonly fingerprint: string;
  private readonly app: string;
  private readonly http: HttpClient;
  private readonly tuf: HttpsSource;
  /** The verified index being read or read (one reading however many requests wait on it). */
  private index: { at: number; apks: Promise<FdroidApk[]> } | undefined;

  constructor(o: FdroidSourceOptions) {
    const { base, fingerprint, uri } = parseFdroidUrl(o.url);
    this.uri = uri;
    this.id = o.id ?? uri;
    this.base = new URL(`${base}/`);
    this.fingerprint = fingerprint;
    this.app = o.app ?? DCHAT_APP_ID;
    this.http = new HttpClient(o);
    const { url: _u, id: _i, app: _a, ...http } = o;
    this.tuf = new HttpsSource({ ...http, url: `${base}/dchat` });
  }

  /** APK packages only: other targets (and patches of APKs: issue 14) are never in an F-Droid repository. */
  serves(target: PackageTarget): boolean {
    return target.custom.package_type === 'APK' && parsePackageName(target.path) !== undefined;
  }

  fetchMetadata(name: string, opts: FetchOptions): Promise<Uint8Array | undefined> {
    return this.tuf.fetchMetadata(name, opts);
  }

  fetchChunkTable(target: string, opts: FetchOptions): Promise<Uint8Array | undefined> {
    return this.tuf.fetchChunkTable(target, opts);
  }

  fetchAttestations(target: string, opts: FetchOptions): Promise<Uint8Array | undefined> {
    return this.tuf.fetchAttestations(target, opts);
  }

  async fetchRange(req: RangeRequest): Promise<Uint8Array> {
    return collectRange(this.streamRange(req), req);
  }

  async *streamRange(req: RangeRequest): AsyncGenerator<Uint8Array> {
    const parsed = parsePackageName(req.target);
    if (!parsed) throw new DchatError('E_MALFORMED', `bad target name '${req.target.slice(0, 64)}'`);
    const apks = (await this.apks(req.signal)).filter((a) => a.versionName === parsed.version);
    const apk = apks.find((a) => a.sha256 === req.sha256.toLowerCase());
    if (!apk)
      throw new SourceError(
        'E_NOT_FOUND',
        apks.length === 0
          ? `${this.uri}: the index lists no ${this.app} ${parsed.version}`
          : `${this.uri}: the index lists ${this.app} ${parsed.version}, but not the file dchat's metadata signs`,
      );
    yield* rangeBody(this.http, new URL(apk.file, this.base), req, `${this.uri}: ${apk.file}`);
  }

  /** The APKs of the app, from the verified index (v2 first, v1 when the repository has no v2). */
  apks(signal?: AbortSignal): Promise<FdroidApk[]> {
    if (this.index && Date.now() - this.index.at < INDEX_TTL_MS) return this.index.apks;
    const reading = { at: Date.now(), apks: this.readIndex(signal) };
    this.index = reading;
    reading.apks.catch(() => {
      if (this.index === reading) this.index = undefined;
    });
    return reading.apks;
  }

  private async readIndex(signal?: AbortSignal): Promise<FdroidApk[]> {
    const entryJar = await this.file('entry.jar', JAR_BYTES, signal);
    let apks: FdroidApk[];
    if (entryJar) {
      const entry = parseEntry(
        await verifiedJarEntry(entryJar, 'entry.json', this.fingerprint, `${this.uri}: entry.jar`),
        `${this.uri}: entry.json`,
      );
      const index = await this.file(entry.index.name, Math.min(entry.index.size, MAX_INDEX_BYTES), signal);
      if (!index) throw new SourceError('E_NOT_FOUND', `${this.uri}: ${entry.index.name} is missing`);
      apks = apksFromV2(index, entry, this.app, `${this.uri}: ${entry.index.name}`);
    } else {
      const v1 = await this.file('index-v1.jar', JAR_BYTES, signal);
      if (!v1)
        throw new SourceError('E_NOT_FOUND', `${this.uri}: no F-Droid index (entry.jar, index-v1.jar)`);
      const json = await verifiedJarEntry(
        v1,
        'index-v1.json',
        this.fingerprint,
        `${this.uri}: index-v1.jar`,
        {
          allowSha1: true,
        },
      );
      apks = apksFromV1(json, this.app, `${this.uri}: index-v1.json`);
    }
    return apks;
  }

  async close(): Promise<void> {
    await Promise.all([this.http.close(), this.tuf.close()]);
  }

  /** A file of the repository, or undefined on 404. */
  private async file(rel: string, maxBytes: number, signal?: AbortSignal): Promise<Uint8Array | undefined> {
    const res = await this.http.get(new URL(rel, this.base), { maxBytes, ...(signal ? { signal } : {}) });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw httpError(res.status, `${this.uri}: ${rel}`);
    return res.body;
  }
}
