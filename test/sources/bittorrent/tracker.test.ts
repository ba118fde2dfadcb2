/**
 * Our tracker (what `dchat node start --tracker` runs): HTTP announces answered for the torrents
 * the node vouches for, refused with a bencoded failure reason for any other; a taken port is a
 * coded error. Hostile .torrent bytes given to the BitTorrent source end in a coded error, never a
 * crash or a hang (fast-check).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import { DchatError } from '../../../src/errors.ts';
import { BitTorrentSource } from '../../../src/sources/bittorrent/source.ts';
import { startTracker } from '../../../src/sources/bittorrent/tracker.ts';
import { hostileBytes } from '../../helpers/fuzz.ts';

const GOOD = 'aa'.repeat(20);
const OTHER = 'bb'.repeat(20);

function announce(url: string, infoHashHex: string): Promise<string> {
  const ih = [...Buffer.from(infoHashHex, 'hex')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  const q = `info_hash=${ih}&peer_id=-DC0001-abcdefghijkl&port=6881&uploaded=0&downloaded=0&left=0&compact=1&event=started`;
  return fetch(`${url}?${q}`).then((r) => r.text());
}

test('the tracker answers announces for allowed torrents only; a taken port is E_ADDR_IN_USE', async (t) => {
  const tracker = await startTracker('127.0.0.1', 0, async (ih) => ih === GOOD);
  t.after(() => tracker.close());
  assert.match(tracker.announceUrl, /^http:\/\/127\.0\.0\.1:\d+\/announce$/);
  const ok = await announce(tracker.announceUrl, GOOD);
  assert.match(ok, /8:interval/);
  assert.doesNotMatch(ok, /failure reason/);
  assert.deepEqual(tracker.swarms(), { [GOOD]: 1 });
  const refused = await announce(tracker.announceUrl, OTHER);
  assert.match(refused, /14:failure reason/);
  assert.equal(tracker.swarms()[OTHER], undefined);
  await assert.rejects(
    startTracker('127.0.0.1', tracker.port),
    (e: unknown) => e instanceof DchatError && e.code === 'E_ADDR_IN_USE',
  );
});

test('hostile .torrent bytes: a coded error from the BitTorrent source, never a crash', async (t) => {
  let body: Uint8Array = new Uint8Array();
  const http = createServer((_q, r) => r.end(body));
  await new Promise<void>((ok) => http.listen(0, '127.0.0.1', ok));
  t.after(() => http.close());
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/x.torrent`;
  await fc.assert(
    fc.asyncProperty(hostileBytes(4096), async (bytes) => {
      body = bytes;
      const s = new BitTorrentSource({ id: 'fuzz', uri: url });
      try {
        await s.fetchRange({
          target: 'x',
          sha256: '',
          start: 0,
          end: 1,
          maxBytes: 1,
          signal: AbortSignal.timeout(5000),
        });
        assert.fail('hostile bytes made a usable torrent');
      } catch (err) {
        assert.ok(err instanceof DchatError, String(err));
        assert.ok(['E_MALFORMED', 'E_ABORTED', 'E_NOT_FOUND'].includes(err.code), err.code);
      } finally {
        await s.close();
      }
    }),
    { numRuns: 40 },
  );
});
