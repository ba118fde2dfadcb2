/**
 * zod schemas of what peers and config files hand us (VersionAnnouncement, its TUF bundle,
 * DownloadSource, AutoUpdateConfig), parsed through parseWith: random JSON, mutated valid
 * documents and values of the wrong type always end in a value or E_MALFORMED naming the field,
 * never a zod or type error; removing a required field or giving any field another type is refused.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { z } from 'zod';
import { ANNOUNCE_FORMAT, TufBundleSchema, VersionAnnouncementSchema } from '../../src/model/announcement.ts';
import { DEFAULT_AUTO_UPDATE, parseAutoUpdateConfig } from '../../src/model/auto-update.ts';
import {
  DownloadSourceListSchema,
  DownloadSourceSchema,
  parseDownloadSource,
} from '../../src/model/download-source.ts';
import { parseWith } from '../../src/model/schema-util.ts';
import { getAt, jsonPaths, mutate, mutationArb, outcome, setAt, wrongTypeFor } from '../helpers/fuzz.ts';

const SOURCE = {
  id: '0b6f3c1e-8a2d-4f7b-9c3e-5d1a2b3c4d5e',
  source_type: 'HttpsMirror',
  uri: 'https://mirror.example.org/dchat/',
  region: 'eu-west',
  priority: 10,
  last_success: '2026-02-01T10:00:00Z',
  failure_count: 0,
  origin: 'configured',
};
const ANNOUNCEMENT = {
  format: ANNOUNCE_FORMAT,
  id: '1c6f3c1e-8a2d-4f7b-9c3e-5d1a2b3c4d5f',
  node_id: '12D3KooWExample',
  version: '1.1.0',
  platform: 'linux-x64',
  metadata: {
    roots: [Buffer.from('{"root":2}').toString('base64')],
    timestamp: Buffer.from('{"timestamp":1}').toString('base64'),
    snapshot: Buffer.from('{"snapshot":1}').toString('base64'),
    targets: Buffer.from('{"targets":1}').toString('base64'),
  },
  sources: [SOURCE],
  timestamp: '2026-03-01T12:00:00Z',
  ttl: 6,
};
const AUTO = {
  enabled: true,
  security_only: false,
  check_interval_hours: 12,
  auto_restart: true,
  background_download: false,
  channel: 'beta',
  pin: '1.0.0',
  keep_versions: 5,
};

interface Case {
  name: string;
  doc: Record<string, unknown>;
  parse: (v: unknown) => unknown;
  /** Top-level fields whose absence is an error (the others are optional or defaulted). */
  required: string[];
}
const CASES: Case[] = [
  {
    name: 'VersionAnnouncement',
    doc: ANNOUNCEMENT,
    parse: (v) => parseWith(VersionAnnouncementSchema, v, 'announcement'),
    required: ['format', 'id', 'node_id', 'version', 'metadata', 'sources', 'timestamp', 'ttl'],
  },
  {
    name: 'TufBundle',
    doc: ANNOUNCEMENT.metadata,
    parse: (v) => parseWith(TufBundleSchema, v, 'bundle'),
    required: ['timestamp', 'snapshot', 'targets'],
  },
  {
    name: 'DownloadSource',
    doc: SOURCE,
    parse: parseDownloadSource,
    required: ['id', 'source_type', 'uri', 'priority', 'failure_count'],
  },
  { name: 'AutoUpdateConfig', doc: AUTO, parse: parseAutoUpdateConfig, required: [] },
];

for (const c of CASES) {
  describe(c.name, () => {
    const paths = jsonPaths(c.doc);

    test('baseline: the valid document parses to itself', () => {
      assert.deepEqual(c.parse(structuredClone(c.doc)), c.doc);
    });

    test('random JSON: a value or E_MALFORMED, nothing else', () => {
      fc.assert(
        fc.property(fc.jsonValue({ maxDepth: 3 }), (v) => {
          outcome(() => c.parse(v), ['E_MALFORMED']);
        }),
        { numRuns: 200 },
      );
    });

    test('mutated serialized document (bytes and fields): a value or E_MALFORMED, nothing else', () => {
      const bytes = Buffer.from(JSON.stringify(c.doc));
      fc.assert(
        fc.property(mutationArb, (m) => {
          let v: unknown;
          try {
            v = JSON.parse(mutate(bytes, m).toString('utf8'));
          } catch {
            return; // not JSON any more: the byte-level parsers' business (parseJsonBytes)
          }
          outcome(() => c.parse(v), ['E_MALFORMED']);
        }),
        { numRuns: 200 },
      );
    });

    if (c.required.length > 0) {
      test('dropping a required field -> E_MALFORMED naming it', () => {
        for (const field of c.required) {
          const doc = structuredClone(c.doc);
          delete doc[field];
          const r = outcome(() => c.parse(doc), ['E_MALFORMED']);
          assert.equal(r.ok, false, `${field} dropped, still accepted`);
          if (!r.ok) assert.match(r.error.message, new RegExp(field));
        }
      });
    }

    test('any field (nested too) given a value of another type -> E_MALFORMED', () => {
      fc.assert(
        fc.property(
          fc.nat().chain((i) => {
            const path = paths[i % paths.length]!;
            return fc.tuple(fc.constant(path), wrongTypeFor(getAt(c.doc, path)));
          }),
          ([path, value]) => {
            const doc = structuredClone(c.doc);
            setAt(doc, path, value);
            // `pin` is nullable: null is a valid value of another JSON type.
            fc.pre(!(c.name === 'AutoUpdateConfig' && path[0] === 'pin' && value === null));
            const r = outcome(() => c.parse(doc), ['E_MALFORMED']);
            assert.equal(r.ok, false, `${path.join('.')} = ${JSON.stringify(value)} accepted`);
          },
        ),
        { numRuns: 200 },
      );
    });
  });
}

describe('schema details', () => {
  test("AutoUpdateConfig: an empty object gives the seed's defaults", () => {
    assert.deepEqual(parseAutoUpdateConfig({}), DEFAULT_AUTO_UPDATE);
    assert.deepEqual(
      { ...DEFAULT_AUTO_UPDATE },
      {
        enabled: false,
        security_only: true,
        check_interval_hours: 24,
        auto_restart: false,
        background_download: true,
        channel: 'stable',
        pin: null,
        // dchat's own addition: installed versions kept before pruning (update list-versions).
        keep_versions: 3,
      },
    );
  });

  test('bounds: ttl past 255, too many sources, an unknown format version -> E_MALFORMED', () => {
    const bad: [string, Record<string, unknown>][] = [
      ['ttl', { ...ANNOUNCEMENT, ttl: 256 }],
      ['sources', { ...ANNOUNCEMENT, sources: Array.from({ length: 33 }, () => SOURCE) }],
      ['format', { ...ANNOUNCEMENT, format: 'dchat.announce/2' }],
      ['version', { ...ANNOUNCEMENT, version: '1.1' }],
    ];
    for (const [field, doc] of bad) {
      const r = outcome(() => parseWith(VersionAnnouncementSchema, doc, 'announcement'), ['E_MALFORMED']);
      assert.equal(r.ok, false, field);
    }
    const many = Array.from({ length: 257 }, () => SOURCE);
    assert.equal(
      outcome(
        () => parseWith(DownloadSourceListSchema as z.ZodType<unknown>, many, 'mirrors'),
        ['E_MALFORMED'],
      ).ok,
      false,
    );
    assert.equal(
      outcome(() => parseWith(DownloadSourceSchema, { ...SOURCE, priority: -1 }, 's'), ['E_MALFORMED']).ok,
      false,
    );
  });
});
