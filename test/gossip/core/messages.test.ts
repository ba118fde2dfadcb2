import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DchatError } from '../../../src/errors.ts';
import {
  decodeGossipMessage,
  encodeGossipMessage,
  GOSSIP_FORMAT,
  GOSSIP_MESSAGE_TYPES,
  type GossipMessage,
  MAX_IDS_PER_MESSAGE,
  parseGossipMessage,
} from '../../../src/gossip/core/messages.ts';
import { Rng } from '../../../src/gossip/core/rng.ts';
import { hostileBytes, mutate, mutationArb } from '../../helpers/fuzz.ts';
import { announcement } from './fixtures.ts';

const rng = new Rng(7);
const id = () => rng.uuid();
const mirror = {
  id: id(),
  source_type: 'HttpsMirror' as const,
  uri: 'https://mirror.example.org/dchat',
  priority: 10,
  failure_count: 0,
  origin: 'configured' as const,
};
const digest = { releases: [{ id: id(), version: '1.2.0' }] };

/** One valid message of every type. */
const samples: GossipMessage[] = [
  { format: GOSSIP_FORMAT, type: 'announce', kind: 'release', announcement: announcement('1.2.0', 5) },
  { format: GOSSIP_FORMAT, type: 'bundle', kind: 'release', announcement: announcement('1.2.0', 0) },
  { format: GOSSIP_FORMAT, type: 'ihave', items: [{ id: id(), version: '1.2.0' }] },
  { format: GOSSIP_FORMAT, type: 'iwant', ids: [id(), id()] },
  { format: GOSSIP_FORMAT, type: 'want', ids: [id()] },
  { format: GOSSIP_FORMAT, type: 'hello', graft: true, digest, mirrors: [mirror] },
  { format: GOSSIP_FORMAT, type: 'graft' },
  { format: GOSSIP_FORMAT, type: 'prune' },
  { format: GOSSIP_FORMAT, type: 'digest', digest, reply: false },
  { format: GOSSIP_FORMAT, type: 'mirrors', sources: [mirror] },
];

const CODES = ['E_MALFORMED', 'E_TOO_LARGE', 'E_UNSUPPORTED'];

test('every message type survives encode then decode unchanged', () => {
  assert.deepEqual(new Set(samples.map((m) => m.type)), new Set(GOSSIP_MESSAGE_TYPES));
  for (const m of samples) {
    const r = decodeGossipMessage(encodeGossipMessage(m));
    assert.ok(r.ok, `${m.type}: ${r.ok ? '' : r.error.message}`);
    assert.deepEqual(r.message, m);
  }
});

test('the size cap is enforced before decoding, and on encoding', () => {
  const bytes = encodeGossipMessage(samples[0] as GossipMessage);
  const r = decodeGossipMessage(bytes, bytes.byteLength - 1);
  assert.equal(r.ok, false);
  assert.equal(r.ok ? '' : r.error.code, 'E_TOO_LARGE');
  // Not even valid JSON is looked at past the cap.
  const junk = new Uint8Array(300).fill(0x7b);
  const j = decodeGossipMessage(junk, 100);
  assert.equal(j.ok ? '' : j.error.code, 'E_TOO_LARGE');
  assert.throws(
    () => encodeGossipMessage(samples[0] as GossipMessage, 50),
    (e: unknown) => e instanceof DchatError && e.code === 'E_TOO_LARGE',
  );
});

test('another version of the format is E_UNSUPPORTED, an unknown type or missing field E_MALFORMED', () => {
  const v2 = parseGossipMessage({ format: 'dchat.gossip/2', type: 'graft' });
  assert.equal(v2.ok ? '' : v2.error.code, 'E_UNSUPPORTED');
  const unknown = parseGossipMessage({ format: GOSSIP_FORMAT, type: 'teleport' });
  assert.equal(unknown.ok ? '' : unknown.error.code, 'E_MALFORMED');
  const missing = parseGossipMessage({ format: GOSSIP_FORMAT, type: 'iwant' });
  assert.equal(missing.ok ? '' : missing.error.code, 'E_MALFORMED');
  const notObject = parseGossipMessage([1, 2]);
  assert.equal(notObject.ok ? '' : notObject.error.code, 'E_MALFORMED');
});

test('bounded lists: more ids than one message may carry is E_MALFORMED', () => {
  const ids = Array.from({ length: MAX_IDS_PER_MESSAGE + 1 }, () => id());
  const r = parseGossipMessage({ format: GOSSIP_FORMAT, type: 'iwant', ids });
  assert.equal(r.ok ? '' : r.error.code, 'E_MALFORMED');
  const ok = parseGossipMessage({ format: GOSSIP_FORMAT, type: 'iwant', ids: ids.slice(1) });
  assert.ok(ok.ok);
});

test('property: hostile bytes never throw and always yield a coded error or a valid message', () => {
  fc.assert(
    fc.property(hostileBytes(), (bytes) => {
      const r = decodeGossipMessage(bytes);
      if (r.ok) assert.ok(GOSSIP_MESSAGE_TYPES.includes(r.message.type));
      else {
        assert.ok(r.error instanceof DchatError);
        assert.ok(CODES.includes(r.error.code), r.error.code);
      }
    }),
    { numRuns: 400 },
  );
});

test('property: any JSON value handed to the parser yields a result, never an exception', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 5 }), (v) => {
      const r = parseGossipMessage(v);
      if (!r.ok) assert.ok(CODES.includes(r.error.code));
    }),
    { numRuns: 300 },
  );
});

test('property: mutated valid messages decode to a valid message or a coded error', () => {
  fc.assert(
    fc.property(fc.constantFrom(...samples), mutationArb, (m, mutation) => {
      const bytes = mutate(encodeGossipMessage(m), mutation);
      const r = decodeGossipMessage(bytes);
      if (r.ok) {
        // Whatever got through is a well-formed message that encodes again within the cap.
        assert.ok(
          parseGossipMessage(JSON.parse(new TextDecoder().decode(encodeGossipMessage(r.message)))).ok,
        );
      } else {
        assert.ok(r.error instanceof DchatError);
        assert.ok(CODES.includes(r.error.code), `${r.error.code}: ${r.error.message}`);
      }
    }),
    { numRuns: 500 },
  );
});

test('the gossiped object kind is a field: a kind this node does not speak, or none, is E_MALFORMED', () => {
  const a = announcement('1.2.0', 5);
  const ok = parseGossipMessage({
    format: GOSSIP_FORMAT,
    type: 'announce',
    kind: 'release',
    announcement: a,
  });
  assert.ok(ok.ok && ok.message.type === 'announce' && ok.message.kind === 'release');
  for (const kind of ['vote', undefined, 7]) {
    const r = parseGossipMessage({ format: GOSSIP_FORMAT, type: 'announce', kind, announcement: a });
    assert.equal(r.ok ? '' : r.error.code, 'E_MALFORMED', String(kind));
  }
});
