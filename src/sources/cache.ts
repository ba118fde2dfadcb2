/**
 * The local cache as a Source: packages already on disk ($DCHAT_HOME/packages, or any directory
 * laid out like it, e.g. a copy of a mirror's packages/). First in the seed's priority order
 * ("Local Cache (instant)"). Files here are as untrusted as any mirror's: the engine checks every
 * chunk read from them against the signed chunk table, so a damaged cached file costs only its bad
 * chunks. Partial downloads are not served from here: the engine resumes them itself, from the
 * chunks its resume state records as verified (download/resume.ts).
 */
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DchatError, SourceError } from '../errors.ts';
import { readCapped } from './directory-fetcher.ts';
import { collectRange, type FetchOptions, type RangeRequest, type Source } from './source.ts';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;
const READ_PIECE = 4 * 1024 * 1024;

export class CacheSource implements Source {
  readonly id: string;
  readonly type = 'cache' as const;
  readonly uri: string;
  private readonly dirs: readonly string[];
  private readonly files: Readonly<Record<string, string>>;

  /**
   * `dirs`: directories holding `<name>` (and `<name>.chunks`), searched in order; `files`: single
   * files known to hold a target (e.g. a package that failed verification, kept for its good chunks).
   */
  constructor(o: { dirs?: readonly string[]; files?: Readonly<Record<string, string>>; id?: string }) {
    this.dirs = o.dirs ?? [];
    this.files = o.files ?? {};
    this.id = o.id ?? 'cache';
    this.uri = `file://${this.dirs[0] ?? Object.values(this.files)[0] ?? ''}`;
  }

  /** The cache holds packages, not repository metadata. */
  async fetchMetadata(_name: string, _opts: FetchOptions): Promise<Uint8Array | undefined> {
    return undefined;
  }

  async fetchChunkTable(target: string, opts: FetchOptions): Promise<Uint8Array | undefined> {
    checkName(target);
    for (const dir of this.dirs) {
      const bytes = await readCapped(join(dir, `${target}.chunks`), opts.maxBytes);
      if (bytes) return bytes;
    }
    return undefined;
  }

  /** True when some directory holds a file named `target`. */
  async has(target: string): Promise<boolean> {
    return (await this.locate(target)) !== undefined;
  }

  async fetchRange(req: RangeRequest): Promise<Uint8Array> {
    return collectRange(this.streamRange(req), req);
  }

  async *streamRange(req: RangeRequest): AsyncGenerator<Uint8Array> {
    checkName(req.target);
    const want = req.end - req.start;
    if (want > req.maxBytes)
      throw new SourceError('E_TOO_LARGE', `range of ${want} bytes is above the ${req.maxBytes}-byte cap`);
    const path = await this.locate(req.target);
    if (!path) throw new SourceError('E_NOT_FOUND', `${req.target} is not in the local cache`);
    const fh = await open(path, 'r').catch((cause: Error) => {
      throw new SourceError('E_IO', `cannot read ${path}: ${cause.message}`, { cause });
    });
    try {
      let pos = req.start;
      while (pos < req.end) {
        req.signal?.throwIfAborted();
        const buf = Buffer.allocUnsafe(Math.min(READ_PIECE, req.end - pos));
        const { bytesRead } = await fh.read(buf, 0, buf.byteLength, pos);
        if (bytesRead === 0)
          throw new SourceError(
            'E_NOT_FOUND',
            `${path} ends at ${pos}, before byte ${req.end} (a shorter file than the release)`,
          );
        pos += bytesRead;
        yield buf.subarray(0, bytesRead);
      }
    } finally {
      await fh.close();
    }
  }

  private async locate(target: string): Promise<string | undefined> {
    const named = Object.hasOwn(this.files, target) ? this.files[target] : undefined;
    if (named) {
      const st = await stat(named).catch(() => undefined);
      if (st?.isFile()) return named;
    }
    for (const dir of this.dirs) {
      const p = join(dir, target);
      const st = await stat(p).catch(() => undefined);
      if (st?.isFile()) return p;
    }
    return undefined;
  }
}

function checkName(name: string): void {
  if (!NAME_RE.test(name) || name.includes('..'))
    throw new DchatError('E_MALFORMED', `bad target name '${name.slice(0, 64)}'`);
}
