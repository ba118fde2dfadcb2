import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isShareableSource, MirrorBook } from '../../../src/gossip/core/mirror-book.ts';
import { Rng } from '../../../src/gossip/core/rng.ts';
import type { DownloadSource } from '../../../src/model/download-source.ts';

const rng = new Rng(11);
const limits = { maxLearned: 4, maxPerPeer: 2, priorityPenalty: 1000, provenAfter: 2, dropAfterFailures: 3 };

function source(
  uri: string,
  priority = 10,
  type: DownloadSource['source_type'] = 'HttpsMirror',
): DownloadSource {
  return { id: rng.uuid(), source_type: type, uri, priority, failure_count: 0, origin: 'configured' };
}

test('learned mirrors are marked learned, start from a clean record and rank after every configured one', () => {
  const book = new MirrorBook<string>(
    [source('https://a.example/d', 50), source('https://b.example/d', 20)],
    limits,
  );
  const shared = {
    ...source('https://c.example/d', 1),
    failure_count: 0,
    last_success: '2025-01-01T00:00:00.000Z',
  };
  assert.equal(book.learn('peer1', [shared]), 1);
  const ranked = book.ranked();
  assert.deepEqual(
    ranked.map((m) => m.uri),
    ['https://b.example/d', 'https://a.example/d', 'https://c.example/d'],
  );
  const learned = ranked[2] as DownloadSource;
  assert.equal(learned.origin, 'learned');
  assert.equal(learned.priority, 1001);
  assert.equal(learned.last_success, undefined, "the peer's claims about the mirror are not believed");
});

test('caps: per peer and in total; configured and known URIs are not learned twice', () => {
  const book = new MirrorBook<string>([source('https://a.example/d')], limits);
  assert.equal(
    book.learn('p1', [
      source('https://1.example/'),
      source('https://2.example/'),
      source('https://3.example/'),
    ]),
    2,
  );
  assert.equal(
    book.learn('p2', [
      source('https://a.example/d'),
      source('https://1.example/'),
      source('https://4.example/'),
    ]),
    1,
  );
  assert.equal(book.learn('p3', [source('https://5.example/'), source('https://6.example/')]), 1);
  assert.equal(book.learnedCount, 4);
  assert.equal(book.learn('p4', [source('https://7.example/')]), 0);
});

test('a learned mirror is shared on only once proven, and forgotten after repeated failures', () => {
  const book = new MirrorBook<string>([], limits);
  book.learn('p1', [source('https://good.example/'), source('https://bad.example/')]);
  assert.deepEqual(book.shareable(), []);
  book.report('https://good.example/', true);
  book.report('https://good.example/', true);
  assert.deepEqual(
    book.shareable().map((m) => m.uri),
    ['https://good.example/'],
  );
  assert.equal(book.ranked()[0]?.priority, 10, 'proven: the penalty is lifted');
  for (let k = 0; k < 3; k++) book.report('https://bad.example/', false);
  assert.deepEqual(
    book.ranked().map((m) => m.uri),
    ['https://good.example/'],
  );
  // The peer leaves: its proven mirror stays, room is made for others.
  book.forgetPeer('p1');
  assert.equal(book.learnedCount, 1);
});

test('only usable, non-local URIs are learned', () => {
  const ok = [
    source('https://mirror.example.org/dchat'),
    source('ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi', 20, 'Ipfs'),
    source('magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=dchat', 40, 'BitTorrent'),
  ];
  const bad = [
    source('http://mirror.example.org/dchat'),
    source('file:///etc/passwd'),
    source('https://user:secret@mirror.example.org/'),
    source('javascript:alert(1)'),
    source('https://mirror.example.org/', 40, 'BitTorrent'),
    source('magnet:?xt=urn:sha1:abc', 40, 'BitTorrent'),
  ];
  for (const s of ok) assert.ok(isShareableSource(s), s.uri);
  for (const s of bad) assert.ok(!isShareableSource(s), s.uri);
  const book = new MirrorBook<string>([], { ...limits, maxPerPeer: 10, maxLearned: 10 });
  assert.equal(book.learn('p', [...ok, ...bad]), 3);
});
