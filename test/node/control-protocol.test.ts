/**
 * The typed, versioned control protocol (model/control.ts over node/control.ts): requests of
 * another format version are refused with E_PROTOCOL, params are checked against their method's
 * schema before a handler runs, and the client checks results against theirs.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { CONTROL_FORMAT, ControlResponseSchema } from '../../src/model/control.ts';
import { ControlServer, controlRequest, protocolHandlers } from '../../src/node/control.ts';
import { snakeKeys } from '../../src/node/snake-keys.ts';
import { type HomePaths, homePaths } from '../../src/store/home.ts';

describe('control protocol dchat.control/1', () => {
  let dir: string;
  let paths: HomePaths;
  let server: ControlServer;
  const seen: unknown[] = [];
  let announceResult: unknown = { id: 'a1', version: '1.2.3', ttl: 4 };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dchat-ctlp-'));
    paths = homePaths(dir);
    server = new ControlServer(
      paths,
      protocolHandlers({
        status: async () => {
          throw new Error('not used');
        },
        announce: async (p) => {
          seen.push(p);
          // Longer than the request deadline below: answering takes what it takes.
          if (p.ttl === 7) await new Promise((r) => setTimeout(r, 600));
          return announceResult as { id: string; version: string; ttl: number };
        },
        download: async () => {
          throw new Error('not used');
        },
        governance_context: async () => {
          throw new Error('not used');
        },
        governance_submit: async () => {
          throw new Error('not used');
        },
        governance_status: async () => {
          throw new Error('not used');
        },
        partition: async () => {
          throw new Error('not used');
        },
      }),
      { requestDeadlineMs: 200 },
    );
    await server.start();
  });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const raw = (doc: unknown) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const s = connect(server.socketPath);
      const parts: Buffer[] = [];
      s.on('data', (d) => parts.push(d));
      s.on('end', () => resolve(JSON.parse(Buffer.concat(parts).toString('utf8'))));
      s.on('error', reject);
      s.write(`${JSON.stringify(doc)}\n`);
    });

  test('another or no format version: E_PROTOCOL, the handler never runs', async () => {
    for (const format of ['dchat.control/2', undefined, 7]) {
      const r = await raw({ format, method: 'announce', params: {} });
      assert.equal(r.format, CONTROL_FORMAT);
      assert.equal(r.ok, false);
      assert.equal((r.error as { code: string }).code, 'E_PROTOCOL');
    }
    assert.equal(seen.length, 0);
  });

  test('params are checked per method (E_MALFORMED naming the field); good ones arrive typed', async () => {
    const bad = await raw({ format: CONTROL_FORMAT, method: 'announce', params: { ttl: 'many' } });
    assert.equal((bad.error as { code: string }).code, 'E_MALFORMED');
    assert.match((bad.error as { message: string }).message, /ttl/);
    const extra = await raw({ format: CONTROL_FORMAT, method: 'announce', params: { ttl: 1, evil: true } });
    assert.equal((extra.error as { code: string }).code, 'E_MALFORMED');
    assert.equal(seen.length, 0);
    const r = await controlRequest(paths, 'announce', { version: '1.2.3', ttl: 4 });
    assert.deepEqual(r, { id: 'a1', version: '1.2.3', ttl: 4 });
    assert.deepEqual(seen, [{ version: '1.2.3', ttl: 4 }]);
    // The client refuses bad params before sending them.
    await assert.rejects(
      controlRequest(paths, 'announce', { ttl: 999 }),
      (e: { code?: string }) => e.code === 'E_MALFORMED',
    );
  });

  test('the request deadline bounds reading the request, not the answer', async () => {
    seen.length = 0;
    assert.deepEqual(await controlRequest(paths, 'announce', { ttl: 7 }), announceResult);
    // A client that never finishes its request line is cut off.
    const cut = await new Promise<boolean>((resolve) => {
      const s = connect(server.socketPath);
      s.write('{"format":');
      s.on('close', () => resolve(true));
      s.on('error', () => resolve(true));
    });
    assert.ok(cut);
  });

  test('a result that does not fit its schema is refused by the client', async () => {
    announceResult = { id: 'a1', version: 'not a version', ttl: 4 };
    await assert.rejects(
      controlRequest(paths, 'announce', {}),
      (e: { code?: string; message?: string }) => e.code === 'E_MALFORMED' && /version/.test(e.message ?? ''),
    );
    announceResult = { id: 'a1', version: '1.2.3', ttl: 4 };
  });

  test('property: any request gets one well-formed response and no handler sees bad params', async () => {
    seen.length = 0;
    const request = fc.oneof(
      fc.jsonValue(),
      fc.record({
        format: fc.oneof(fc.constant(CONTROL_FORMAT), fc.string({ maxLength: 20 })),
        method: fc.oneof(
          fc.constantFrom('status', 'announce', 'download', 'nope'),
          fc.string({ maxLength: 10 }),
        ),
        params: fc.oneof(
          fc.jsonValue(),
          fc.record(
            { version: fc.string({ maxLength: 12 }), ttl: fc.oneof(fc.integer(), fc.string()) },
            { requiredKeys: [] },
          ),
        ),
      }),
    );
    await fc.assert(
      fc.asyncProperty(request, async (doc) => {
        const r = await raw(doc);
        assert.ok(ControlResponseSchema.safeParse(r).success, JSON.stringify(r));
      }),
      { numRuns: 150 },
    );
    for (const p of seen) {
      const q = p as { version?: string; ttl?: number };
      assert.ok(q.ttl === undefined || (Number.isInteger(q.ttl) && q.ttl >= 0 && q.ttl <= 255));
      assert.ok(q.version === undefined || /^\d+\.\d+\.\d+/.test(q.version));
    }
  });

  test('status counters are renamed to snake_case one level deep; data keys below are kept', () => {
    assert.deepEqual(
      snakeKeys({ forgedAnnouncements: 1, acceptedVia: { push: 1 }, rejectedBy: { '12D3KooWAbC': 2 } }),
      { forged_announcements: 1, accepted_via: { push: 1 }, rejected_by: { '12D3KooWAbC': 2 } },
    );
  });
});
