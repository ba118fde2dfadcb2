/**
 * The sans-IO HTTP/1.1 response parser (src/sources/http1/parser.ts) without sockets: any split of
 * a Content-Length, chunked or close-delimited answer, read through `feed` or the zero-copy
 * `directData` path in any mix, gives exactly the body; malformed heads and every cap give coded
 * errors. The socket shell runs against a raw loopback server in range.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { SourceError } from '../../../src/errors.ts';
import {
  type Http1Event,
  Http1ResponseParser,
  MAX_CHUNK_LINE,
  MAX_HEAD_BYTES,
  MAX_HEADERS,
} from '../../../src/sources/http1/parser.ts';
import { split } from './split.ts';

const BODY = randomBytes(40_000);

interface Outcome {
  heads: { code: number; unsupported: boolean }[];
  body: Buffer;
  ended: boolean;
  error: SourceError | undefined;
  /** Events after the end or an error (must be none). */
  late: number;
  keepAlive: boolean;
}

/**
 * Plays the shell: each read either lands in the shell's own memory (when the parser allows and
 * `direct` says so) or is fed; at the end of input the connection closes if `eof`.
 */
function drive(p: Http1ResponseParser, reads: Buffer[], direct: boolean[] = [], eof = false): Outcome {
  const out: Outcome = {
    heads: [],
    body: Buffer.alloc(0),
    ended: false,
    error: undefined,
    late: 0,
    keepAlive: false,
  };
  const parts: Buffer[] = [];
  const take = (evs: Http1Event[]) => {
    for (const ev of evs) {
      if (out.ended || out.error) out.late++;
      if (ev.type === 'head') out.heads.push({ code: ev.code, unsupported: ev.unsupported });
      else if (ev.type === 'data') parts.push(Buffer.from(ev.bytes));
      else if (ev.type === 'end') out.ended = true;
      else out.error = ev.error;
    }
  };
  reads.forEach((r, i) => {
    let rest = r;
    while (rest.byteLength > 0) {
      const room = p.directRoom();
      if (room > 0 && direct[i % Math.max(1, direct.length)]) {
        const n = Math.min(room, rest.byteLength);
        parts.push(Buffer.from(rest.subarray(0, n)));
        if (p.directData(n)) take([{ type: 'end' }]);
        rest = rest.subarray(n);
      } else {
        take(p.feed(rest));
        rest = rest.subarray(rest.byteLength);
      }
    }
  });
  if (eof) {
    const ev = p.eof();
    if (ev) take([ev]);
  }
  out.body = Buffer.concat(parts);
  out.keepAlive = p.keepAlive;
  return out;
}

function chunked(data: Buffer, sizes: number[], trailer = 'X-Trailer: 1\r\n'): Buffer {
  const out: Buffer[] = [];
  let off = 0;
  for (const n of [...sizes, data.byteLength]) {
    if (off >= data.byteLength) break;
    const part = data.subarray(off, off + n);
    out.push(
      Buffer.from(`${part.byteLength.toString(16)}${n % 2 ? ';ext=1' : ''}\r\n`),
      part,
      Buffer.from('\r\n'),
    );
    off += part.byteLength;
  }
  out.push(Buffer.from(`0\r\n${trailer}\r\n`));
  return Buffer.concat(out);
}

const head = (status: string, fields: string) => Buffer.from(`HTTP/1.1 ${status}\r\n${fields}\r\n`);

type Framing = 'length' | 'chunked' | 'close';

function answer(framing: Framing, body: Buffer, sizes: number[], interim: boolean): Buffer {
  const pre = interim ? [Buffer.from('HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n')] : [];
  const range = `Content-Range: bytes 0-${body.byteLength - 1}/*\r\n`;
  if (framing === 'length')
    return Buffer.concat([
      ...pre,
      head('206 Partial Content', `${range}Content-Length: ${body.byteLength}\r\n`),
      body,
    ]);
  if (framing === 'chunked')
    return Buffer.concat([
      ...pre,
      head('206 Partial Content', `${range}Transfer-Encoding: chunked\r\n`),
      chunked(body, sizes),
    ]);
  return Buffer.concat([...pre, head('206 Partial Content', `${range}Connection: close\r\n`), body]);
}

test('property: any split of any framing, fed or read in place, gives exactly the body', () => {
  fc.assert(
    fc.property(
      fc.constantFrom<Framing>('length', 'chunked', 'close'),
      fc.integer({ min: 1, max: BODY.byteLength }),
      fc.array(fc.integer({ min: 0, max: 50_000 }), { maxLength: 15 }),
      fc.array(fc.integer({ min: 1, max: 9000 }), { maxLength: 6 }),
      fc.array(fc.boolean(), { maxLength: 5 }),
      fc.boolean(),
      (framing, len, cuts, sizes, direct, interim) => {
        const body = BODY.subarray(0, len);
        const p = new Http1ResponseParser(len);
        const o = drive(p, split(answer(framing, body, sizes, interim), cuts), direct, framing === 'close');
        assert.equal(o.error, undefined, o.error?.message);
        assert.deepEqual(o.heads, [{ code: 206, unsupported: false }]);
        assert.ok(o.body.equals(body), `${o.body.byteLength} bytes of ${len}`);
        assert.equal(o.ended, true);
        assert.equal(o.late, 0);
        assert.equal(o.keepAlive, framing !== 'close');
      },
    ),
    { numRuns: 300 },
  );
});

test('property: a 206 carrying more than the range fails E_TOO_LARGE (chunked, close) or stops at the length', () => {
  fc.assert(
    fc.property(
      fc.constantFrom<Framing>('length', 'chunked', 'close'),
      fc.integer({ min: 1, max: 20_000 }),
      fc.integer({ min: 1, max: 5000 }),
      fc.array(fc.integer({ min: 0, max: 30_000 }), { maxLength: 8 }),
      fc.array(fc.boolean(), { maxLength: 4 }),
      (framing, max, extra, cuts, direct) => {
        const body = BODY.subarray(0, max + extra);
        const p = new Http1ResponseParser(max);
        const o = drive(p, split(answer(framing, body, [4096], false), cuts), direct, framing === 'close');
        assert.ok(o.body.byteLength <= max, 'never more than the range');
        assert.ok(o.body.equals(body.subarray(0, o.body.byteLength)));
        if (framing === 'length') {
          // Content-Length beyond the range: the range is read, the rest never, the connection dropped.
          assert.equal(o.ended, true);
          assert.equal(o.keepAlive, false);
        } else assert.equal(o.error?.code, 'E_TOO_LARGE');
        assert.equal(o.late, 0);
      },
    ),
    { numRuns: 200 },
  );
});

test('a 200 (the whole file) is read up to the range and ends there', () => {
  for (const framing of ['length', 'chunked', 'close'] as const) {
    const full = answer(framing, BODY, [1000, 3000], false);
    const raw = Buffer.from(full.toString('latin1').replace('206 Partial Content', '200 OK'), 'latin1');
    const p = new Http1ResponseParser(5000);
    const o = drive(p, split(raw, [50, 3000, 7000]), [true, false]);
    assert.equal(o.error, undefined, framing);
    assert.ok(o.body.equals(BODY.subarray(0, 5000)), framing);
    assert.equal(o.ended, true, framing);
    assert.equal(o.keepAlive, false, framing);
  }
});

test('short bodies: a close-framed one ends (the caller judges the length), others fail E_NETWORK', () => {
  const body = BODY.subarray(0, 1000);
  for (const framing of ['length', 'chunked', 'close'] as const) {
    const raw = answer(framing, body, [300], false);
    const o = drive(new Http1ResponseParser(1000), [raw.subarray(0, raw.byteLength - 400)], [], true);
    if (framing === 'close') {
      assert.equal(o.ended, true);
      assert.equal(o.body.byteLength, 600);
    } else assert.equal(o.error?.code, 'E_NETWORK', framing);
  }
  assert.equal(drive(new Http1ResponseParser(10), [], [], true).error?.code, 'E_NETWORK');
});

test('error statuses are answered from the head; other framings are unsupported', () => {
  let o = drive(new Http1ResponseParser(10), [
    head('416 Range Not Satisfiable', 'Content-Length: 5\r\n'),
    Buffer.from('abcde'),
  ]);
  assert.deepEqual(o.heads, [{ code: 416, unsupported: false }]);
  assert.equal(o.body.byteLength, 0);
  assert.equal(o.keepAlive, false);
  for (const fields of [
    'Transfer-Encoding: gzip, chunked\r\n',
    'Content-Length: 5\r\nContent-Length: 5\r\n',
    'Content-Length: -1\r\n',
    'Content-Length: 5, 5\r\n',
  ]) {
    o = drive(new Http1ResponseParser(10), [head('206 Partial Content', fields)]);
    assert.deepEqual(o.heads, [{ code: 206, unsupported: true }], fields);
    assert.equal(o.error, undefined);
  }
});

test('keep-alive: HTTP/1.0 needs keep-alive, Connection: close ends it, bytes past the body end it', () => {
  const b = BODY.subarray(0, 10);
  const ok = (raw: Buffer) => drive(new Http1ResponseParser(10), [raw]);
  assert.equal(ok(Buffer.concat([head('206 Partial Content', 'Content-Length: 10\r\n'), b])).keepAlive, true);
  assert.equal(
    ok(Buffer.concat([Buffer.from('HTTP/1.0 206 Partial Content\r\nContent-Length: 10\r\n\r\n'), b]))
      .keepAlive,
    false,
  );
  assert.equal(
    ok(
      Buffer.concat([
        Buffer.from('HTTP/1.0 206 Partial Content\r\nContent-Length: 10\r\nConnection: Keep-Alive\r\n\r\n'),
        b,
      ]),
    ).keepAlive,
    true,
  );
  assert.equal(
    ok(Buffer.concat([head('206 Partial Content', 'Content-Length: 10\r\nConnection: close\r\n'), b]))
      .keepAlive,
    false,
  );
  const junk = ok(
    Buffer.concat([head('206 Partial Content', 'Content-Length: 10\r\n'), b, Buffer.from('junk')]),
  );
  assert.equal(junk.ended, true);
  assert.ok(junk.body.equals(b));
  assert.equal(junk.keepAlive, false);
  const chunkJunk = ok(
    Buffer.concat([
      head('206 Partial Content', 'Transfer-Encoding: chunked\r\n'),
      chunked(b, []),
      Buffer.from('x'),
    ]),
  );
  assert.equal(chunkJunk.ended, true);
  assert.equal(chunkJunk.keepAlive, false);
});

test('malformed heads and every cap are E_HTTP, split anywhere', () => {
  const cases: [string, Buffer][] = [
    ['not HTTP/1.x', Buffer.from('SPDY/9 200 OK\r\n\r\n')],
    ['no status code', Buffer.from('HTTP/1.1 OK\r\n\r\n')],
    ['header without a name', head('206 Partial Content', ': x\r\n')],
    ['header without a colon', head('206 Partial Content', 'Content-Length 5\r\n')],
    ['too many headers', head('206 Partial Content', 'X-A: 1\r\n'.repeat(MAX_HEADERS + 1))],
    ['head too large', Buffer.from(`HTTP/1.1 206 Partial Content\r\nX-Pad: ${'y'.repeat(MAX_HEAD_BYTES)}`)],
    [
      'bad chunk size',
      Buffer.concat([head('206 Partial Content', 'Transfer-Encoding: chunked\r\n'), Buffer.from('zz\r\n')]),
    ],
    [
      'chunk size line too long',
      Buffer.concat([
        head('206 Partial Content', 'Transfer-Encoding: chunked\r\n'),
        Buffer.from(`5;${'e'.repeat(MAX_CHUNK_LINE)}`),
      ]),
    ],
    [
      'data not followed by CRLF',
      Buffer.concat([
        head('206 Partial Content', 'Transfer-Encoding: chunked\r\n'),
        Buffer.from('2\r\nabXY\r\n'),
      ]),
    ],
    [
      'endless trailers',
      Buffer.concat([
        head('206 Partial Content', 'Transfer-Encoding: chunked\r\n'),
        Buffer.from(`0\r\n${'X-T: vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\r\n'.repeat(1000)}`),
      ]),
    ],
  ];
  for (const [what, raw] of cases)
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: raw.byteLength }), { maxLength: 6 }), (cuts) => {
        const o = drive(new Http1ResponseParser(10), split(raw, cuts));
        assert.equal(o.error?.code, 'E_HTTP', what);
        assert.equal(o.late, 0, what);
        assert.equal(o.ended, false, what);
      }),
      { numRuns: 20 },
    );
});

test('property: arbitrary bytes never throw, never give more than the range, and stop after an end or error', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.uint8Array({ maxLength: 64 }),
          fc.constantFrom(
            Buffer.from('HTTP/1.1 206 X\r\n'),
            Buffer.from('Transfer-Encoding: chunked\r\n'),
            Buffer.from('Content-Length: 7\r\n'),
            Buffer.from('\r\n'),
            Buffer.from('5\r\nabcde\r\n'),
            Buffer.from('0\r\n\r\n'),
          ),
        ),
        { maxLength: 20 },
      ),
      fc.boolean(),
      (reads, eof) => {
        const o = drive(
          new Http1ResponseParser(8),
          reads.map((r) => Buffer.from(r)),
          [true],
          eof,
        );
        assert.ok(o.body.byteLength <= 8);
        assert.equal(o.late, 0);
        assert.ok(o.heads.length <= 1);
        if (o.error)
          assert.ok(
            o.error instanceof SourceError && ['E_HTTP', 'E_TOO_LARGE', 'E_NETWORK'].includes(o.error.code),
          );
      },
    ),
    { numRuns: 300 },
  );
});
