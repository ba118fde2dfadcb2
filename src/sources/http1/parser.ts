/**
 * Reading one HTTP/1.1 response to a range GET, without a socket (the h11 shape: bytes in, events
 * out; the shell in range.ts moves bytes and time). It reads the body framings of RFC 9112 §6.3
 * (Content-Length, chunked, until close), skips interim 1xx answers, and caps every untrusted
 * size: the head, its header count, chunk-size lines, trailers, and the body itself (never more
 * than the `max` bytes of the range asked for). Errors are SourceErrors with our codes: E_HTTP for
 * a malformed answer, E_TOO_LARGE for more body than the range, E_NETWORK for a connection that
 * ended mid-answer.
 *
 * Only 200 and 206 bodies are read. Any other status is answered from its head alone, and a 200
 * or 206 framed any other way (another transfer coding, conflicting lengths) is reported as
 * `unsupported` so the caller can ask again through a full HTTP client.
 *
 * Zero-copy body path: while `directRoom()` is above 0 (a Content-Length or close-framed body),
 * the shell may let the socket write body bytes straight into its own memory and report them with
 * `directData(n)`; nothing here touches those bytes. Everything else goes through `feed`, whose
 * `data` events are views into the input, valid only until the caller's next read.
 */
import { SourceError } from '../../errors.ts';

/** A response head larger than this is refused (the head of a range answer is a few hundred bytes). */
export const MAX_HEAD_BYTES = 32 * 1024;
export const MAX_HEADERS = 100;
/** A chunk-size line longer than this is refused (hex digits plus extensions). */
export const MAX_CHUNK_LINE = 1024;

export type HeaderMap = Record<string, string | string[]>;

/** How the end of a body is known (RFC 9112 §6.3). */
export type Framing = 'length' | 'chunked' | 'close';

export type Http1Event =
  /**
   * The final head. The body follows only for a 200 or 206 that is not `unsupported`; otherwise the
   * parser is done and the connection must not be reused.
   */
  | { type: 'head'; code: number; headers: HeaderMap; unsupported: boolean }
  | { type: 'data'; bytes: Uint8Array }
  | { type: 'end' }
  | { type: 'error'; error: SourceError };

export type ParserPhase = 'head' | 'body' | 'done' | 'failed';

type ChunkState = 'size' | 'data' | 'data-end' | 'trailer';

const CRLFCRLF = Buffer.from('\r\n\r\n');

export class Http1ResponseParser {
  /** Body bytes wanted at most: the length of the range asked for. */
  readonly max: number;
  private phase_: ParserPhase = 'head';
  /** Bytes fed so far, head included (0 tells a connection that died before answering). */
  private received_ = 0;
  private head = Buffer.allocUnsafe(0);
  private headFill = 0;
  private framing: Framing = 'length';
  /** A 206 must not carry more than the range; a 200 (whole file) is read up to `max`, then ends. */
  private strict = true;
  /** Body bytes still wanted: what Content-Length announced or what `max` allows, whichever is less. */
  private bodyLeft = 0;
  private chunkState: ChunkState = 'size';
  private chunkLine = '';
  private chunkLeft = 0;
  private trailerBytes = 0;
  private keepAlive_ = true;

  constructor(max: number) {
    this.max = max;
  }

  get phase(): ParserPhase {
    return this.phase_;
  }

  get received(): number {
    return this.received_;
  }

  /** Whether the connection may carry another request once this response has ended. */
  get keepAlive(): boolean {
    return this.keepAlive_ && this.phase_ === 'done';
  }

  /** Body bytes the shell may read straight into its own memory now (0: `feed` them instead). */
  directRoom(): number {
    return this.phase_ === 'body' && this.framing !== 'chunked' ? this.bodyLeft : 0;
  }

  /** `n` (at most `directRoom()`) body bytes landed in the shell's memory. True: the body is complete. */
  directData(n: number): boolean {
    this.received_ += n;
    this.bodyLeft -= n;
    return this.endIfComplete();
  }

  /** Bytes from the connection, in order. */
  feed(bytes: Uint8Array): Http1Event[] {
    this.received_ += bytes.byteLength;
    const out: Http1Event[] = [];
    let off = 0;
    while (off < bytes.byteLength) {
      if (this.phase_ === 'head') off = this.feedHead(bytes, off, out);
      else if (this.phase_ === 'body')
        off =
          this.framing === 'chunked' ? this.feedChunked(bytes, off, out) : this.feedPlain(bytes, off, out);
      else {
        // More than the response announced: this connection cannot carry another request.
        this.keepAlive_ = false;
        break;
      }
    }
    if (this.phase_ === 'body' && this.framing === 'chunked' && this.endIfComplete())
      out.push({ type: 'end' });
    return out;
  }

  /** The connection closed (cleanly) while this response was being read. */
  eof(): Http1Event | undefined {
    if (this.phase_ === 'done' || this.phase_ === 'failed') return undefined;
    if (this.phase_ === 'body' && this.framing === 'close') {
      // The body's end is the connection's end: whether it was all there is for the caller to judge.
      this.phase_ = 'done';
      this.keepAlive_ = false;
      return { type: 'end' };
    }
    return this.fail(
      new SourceError(
        'E_NETWORK',
        this.phase_ === 'head' ? 'connection closed before a response head' : 'connection closed mid-body',
      ),
    );
  }

  private fail(error: SourceError, out?: Http1Event[]): Http1Event {
    this.phase_ = 'failed';
    this.keepAlive_ = false;
    const ev: Http1Event = { type: 'error', error };
    out?.push(ev);
    return ev;
  }

  private endIfComplete(): boolean {
    if (this.phase_ !== 'body') return false;
    if (this.bodyLeft !== 0 || (this.framing !== 'length' && this.strict)) return false;
    this.phase_ = 'done';
    return true;
  }

  /** Head bytes: gathered (capped) until the blank line, then parsed. Returns the new offset. */
  private feedHead(bytes: Uint8Array, off: number, out: Http1Event[]): number {
    const prev = this.headFill;
    const take = Math.min(bytes.byteLength - off, MAX_HEAD_BYTES + 1 - prev);
    if (prev + take > this.head.byteLength) {
      const bigger = Buffer.allocUnsafe(
        Math.min(MAX_HEAD_BYTES + 1, Math.max(1024, 2 * this.head.byteLength, prev + take)),
      );
      this.head.copy(bigger, 0, 0, prev);
      this.head = bigger;
    }
    this.head.set(bytes.subarray(off, off + take), prev);
    this.headFill += take;
    const end = this.head.subarray(0, this.headFill).indexOf(CRLFCRLF, Math.max(0, prev - 3));
    if (end < 0) {
      if (this.headFill > MAX_HEAD_BYTES)
        this.fail(new SourceError('E_HTTP', `response head larger than ${MAX_HEAD_BYTES} bytes`), out);
      return off + take;
    }
    const used = end + 4 - prev;
    this.parseHead(end, out);
    return off + used;
  }

  private parseHead(end: number, out: Http1Event[]): void {
    const lines = this.head.toString('latin1', 0, end).split('\r\n');
    this.head = Buffer.allocUnsafe(0);
    this.headFill = 0;
    const status = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
    if (!status || lines.length - 1 > MAX_HEADERS) {
      this.fail(new SourceError('E_HTTP', `malformed response head '${(lines[0] ?? '').slice(0, 80)}'`), out);
      return;
    }
    const headers: HeaderMap = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) {
        this.fail(new SourceError('E_HTTP', `malformed response header '${line.slice(0, 80)}'`), out);
        return;
      }
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      const prev = headers[name];
      headers[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
    }
    const code = Number(status[2]);
    // An interim answer (103 Early Hints, a stray 100): the real one follows.
    if (code >= 100 && code < 200 && code !== 101) return;
    const connection = String(headers.connection ?? '').toLowerCase();
    this.keepAlive_ = status[1] === '1' ? !connection.includes('close') : connection.includes('keep-alive');
    const te = headers['transfer-encoding'];
    const length = headers['content-length'];
    const framing: Framing | undefined =
      te !== undefined
        ? te === 'chunked' || te === 'Chunked'
          ? 'chunked'
          : undefined
        : length === undefined
          ? 'close'
          : typeof length === 'string' && /^\d{1,15}$/.test(length)
            ? 'length'
            : undefined;
    if ((code !== 200 && code !== 206) || !framing) {
      // An error status is answered from its head alone; a framing this path does not read is
      // `unsupported`. Either way the rest of this connection is not read.
      this.phase_ = 'done';
      this.keepAlive_ = false;
      out.push({ type: 'head', code, headers, unsupported: code === 200 || code === 206 });
      return;
    }
    this.framing = framing;
    this.strict = code === 206;
    if (framing === 'length') {
      const announced = Number(length);
      this.bodyLeft = Math.min(announced, this.max);
      if (announced !== this.max) this.keepAlive_ = false;
    } else {
      this.bodyLeft = this.max;
      if (framing === 'close') this.keepAlive_ = false;
    }
    this.phase_ = 'body';
    out.push({ type: 'head', code, headers, unsupported: false });
    if (framing !== 'chunked' && this.endIfComplete()) out.push({ type: 'end' });
  }

  /** Content-Length or close framing. */
  private feedPlain(bytes: Uint8Array, off: number, out: Http1Event[]): number {
    const avail = bytes.byteLength - off;
    const take = Math.min(avail, this.bodyLeft);
    if (take < avail) {
      if (this.strict && this.framing === 'close') {
        this.fail(tooLarge(this.max), out);
        return bytes.byteLength;
      }
      // Past the body (or past what a 200 is read for): the connection is not reused.
      this.keepAlive_ = false;
    }
    if (take > 0) out.push({ type: 'data', bytes: bytes.subarray(off, off + take) });
    this.bodyLeft -= take;
    if (this.endIfComplete()) out.push({ type: 'end' });
    return take < avail ? bytes.byteLength : off + take;
  }

  /** Chunked framing: sizes, data, CRLFs and trailers. Returns the new offset. */
  private feedChunked(bytes: Uint8Array, off: number, out: Http1Event[]): number {
    if (this.chunkState === 'data') {
      const n = Math.min(this.chunkLeft, bytes.byteLength - off);
      if (n > this.bodyLeft) {
        if (this.strict) {
          this.fail(tooLarge(this.max), out);
          return bytes.byteLength;
        }
        // A 200: enough of the file is here.
        if (this.bodyLeft > 0) out.push({ type: 'data', bytes: bytes.subarray(off, off + this.bodyLeft) });
        this.bodyLeft = 0;
        this.keepAlive_ = false;
        this.phase_ = 'done';
        out.push({ type: 'end' });
        return bytes.byteLength;
      }
      if (n > 0) out.push({ type: 'data', bytes: bytes.subarray(off, off + n) });
      this.bodyLeft -= n;
      this.chunkLeft -= n;
      if (this.chunkLeft === 0) this.chunkState = 'data-end';
      return off + n;
    }
    // A line: the chunk size, the CRLF after data, or a trailer.
    const nl = bytes.indexOf(0x0a, off);
    const lineEnd = nl < 0 ? bytes.byteLength : nl;
    if (this.chunkLine.length + (lineEnd - off) > MAX_CHUNK_LINE) {
      this.fail(new SourceError('E_HTTP', 'chunked body: a framing line is too long'), out);
      return bytes.byteLength;
    }
    this.chunkLine += Buffer.from(bytes.buffer, bytes.byteOffset + off, lineEnd - off).toString('latin1');
    if (nl < 0) return bytes.byteLength;
    const next = nl + 1;
    const line = this.chunkLine.replace(/\r$/, '');
    this.chunkLine = '';
    if (this.chunkState === 'data-end') {
      if (line !== '') this.fail(new SourceError('E_HTTP', 'chunked body: data not followed by CRLF'), out);
      else this.chunkState = 'size';
    } else if (this.chunkState === 'size') {
      const m = /^([0-9a-fA-F]{1,12})(?:\s*;.*)?$/.exec(line);
      if (!m) {
        this.fail(new SourceError('E_HTTP', `chunked body: bad chunk size '${line.slice(0, 40)}'`), out);
      } else {
        this.chunkLeft = Number.parseInt(m[1] as string, 16);
        this.chunkState = this.chunkLeft === 0 ? 'trailer' : 'data';
      }
    } else if (line === '') {
      // The empty line after the trailers: the body is complete. Anything after it is not ours.
      if (next < bytes.byteLength) this.keepAlive_ = false;
      this.phase_ = 'done';
      out.push({ type: 'end' });
      return bytes.byteLength;
    } else {
      // A trailer field: ignored, but an endless trailer section is refused like a huge head.
      this.trailerBytes += line.length + 2;
      if (this.trailerBytes > MAX_HEAD_BYTES)
        this.fail(
          new SourceError('E_HTTP', `chunked body: trailers larger than ${MAX_HEAD_BYTES} bytes`),
          out,
        );
    }
    return this.phase_ === 'failed' ? bytes.byteLength : next;
  }
}

function tooLarge(max: number): SourceError {
  return new SourceError('E_TOO_LARGE', `sent more than the ${max} bytes of the range asked for`);
}
