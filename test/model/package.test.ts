/**
 * The signed target's `custom` (parsePackageCustom) and the package file name convention
 * (parsePackageName / packageName): random, mutated and hostile input never crashes, yields
 * E_MALFORMED (custom) or undefined (names), and what parses satisfies every invariant.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parsePackageCustom } from '../../src/model/package.ts';
import { isValidPlatform, packageName, parsePackageName } from '../../src/model/platform.ts';
import { isValidVersion, parseVersion } from '../../src/model/version.ts';
import { deleteAt, getAt, jsonPaths, outcome, setAt, wrongTypeFor } from '../helpers/fuzz.ts';
import { packageBytes, targetFor } from '../helpers/repo.ts';

const GENUINE = targetFor(packageBytes('custom', 50_000), '1.2.3', 'linux-x64', {
  signature: Buffer.alloc(64, 7).toString('base64'),
  signer_pubkey: Buffer.alloc(32, 9).toString('base64'),
  release_notes_url: 'https://example.org/notes/1.2.3',
  min_compatible_version: '1.0.0',
  ipfs_cid: 'QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o',
  sources: ['https://mirror.example.org/dchat/'],
}).custom;
const REQUIRED = [
  'format',
  'version',
  'release_date',
  'package_type',
  'platform',
  'sha256',
  'blake3',
  'size_bytes',
  'channel',
  'security',
  'chunks',
];
const PATHS = jsonPaths(GENUINE);

function assertInvariants(c: ReturnType<typeof parsePackageCustom>): void {
  assert.ok(isValidVersion(c.version), c.version);
  assert.ok(isValidPlatform(c.platform), c.platform);
  assert.match(c.sha256, /^[0-9a-f]{64}$/);
  assert.match(c.blake3, /^[0-9a-f]{64}$/);
  assert.match(c.chunks.root, /^[0-9a-f]{64}$/);
  assert.ok(Number.isSafeInteger(c.size_bytes) && c.size_bytes >= 0);
  assert.equal(c.chunks.size & (c.chunks.size - 1), 0);
}

describe('parsePackageCustom', () => {
  test('baseline: the custom object that publish writes parses unchanged', () => {
    assert.deepEqual(parsePackageCustom(structuredClone(GENUINE)), GENUINE);
  });

  test('random JSON: E_MALFORMED or a custom that satisfies every invariant', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), (v) => {
        const r = outcome(() => parsePackageCustom(v), ['E_MALFORMED']);
        assert.equal(r.ok, false, 'random JSON parsed as a target custom');
      }),
      { numRuns: 300 },
    );
  });

  test('dropping any required field -> E_MALFORMED', () => {
    fc.assert(
      fc.property(fc.constantFrom(...REQUIRED), (field) => {
        const doc = structuredClone(GENUINE) as Record<string, unknown>;
        delete doc[field];
        const r = outcome(() => parsePackageCustom(doc), ['E_MALFORMED']);
        assert.equal(r.ok, false, `custom without ${field} accepted`);
      }),
    );
  });

  test('any field (nested too) given a value of another JSON type -> E_MALFORMED', () => {
    fc.assert(
      fc.property(
        fc.nat().chain((i) => {
          const path = PATHS[i % PATHS.length]!;
          return fc.tuple(fc.constant(path), wrongTypeFor(getAt(GENUINE, path)));
        }),
        ([path, value]) => {
          const doc = structuredClone(GENUINE);
          setAt(doc, path, value);
          const r = outcome(() => parsePackageCustom(doc), ['E_MALFORMED']);
          assert.equal(r.ok, false, `${path.join('.')} = ${JSON.stringify(value)} accepted`);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('any field replaced by any JSON value, or deleted: E_MALFORMED or a custom that satisfies every invariant', () => {
    fc.assert(
      fc.property(fc.nat(), fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined }), (i, value) => {
        const doc = structuredClone(GENUINE);
        const path = PATHS[i % PATHS.length]!;
        if (value === undefined) deleteAt(doc, path);
        else setAt(doc, path, value);
        const r = outcome(() => parsePackageCustom(doc), ['E_MALFORMED']);
        if (r.ok) assertInvariants(r.value);
      }),
      { numRuns: 500 },
    );
  });
});

describe('parsePackageName / packageName', () => {
  // Known OS names only: with an OS the parser does not know, "dchat-1.0.0-windows-plan9-x64" is
  // ambiguous by construction (1.0.0 for windows-plan9-x64, or 1.0.0-windows for plan9-x64).
  const OS = ['linux', 'windows', 'darwin', 'macos', 'android', 'freebsd', 'ios'];
  const ARCH = ['x64', 'arm64', 'ia32', 'riscv64', 'armv7', 'x64_musl'];
  const ident = fc.oneof(
    fc.constantFrom('rc', 'beta', 'alpha', 'linux', 'windows', 'source', 'x64'),
    fc.nat({ max: 99 }).map(String),
  );
  const version = fc
    .tuple(
      fc.nat({ max: 999 }),
      fc.nat({ max: 999 }),
      fc.nat({ max: 999 }),
      fc.array(ident, { maxLength: 3 }),
      fc.constantFrom('.', '-'),
    )
    .map(([a, b, c, pre, sep]) => `${a}.${b}.${c}${pre.length ? `-${pre.join(sep)}` : ''}`)
    .filter(isValidVersion);
  const platform = fc.oneof(
    fc.tuple(fc.constantFrom(...OS), fc.constantFrom(...ARCH)).map(([o, a]) => `${o}-${a}`),
    fc.constantFrom('source', 'any'),
  );

  test('round trip: the name of (version, platform), with or without an extension, parses back to them', () => {
    fc.assert(
      fc.property(
        version,
        platform,
        fc.constantFrom('', '.sig', '.tar.gz', '.zip', '.exe', '.apk'),
        (v, p, ext) => {
          assert.deepEqual(parsePackageName(`${packageName(v, p)}${ext}`), { version: v, platform: p });
        },
      ),
      { numRuns: 500 },
    );
  });

  test('unknown OS: "os-arch" after a release version', () => {
    assert.deepEqual(parsePackageName('dchat-2.0.1-haiku-x64.tar.gz'), {
      version: '2.0.1',
      platform: 'haiku-x64',
    });
    assert.deepEqual(parsePackageName('dchat-2.0.1-rc.1-plan9-arm64'), {
      version: '2.0.1-rc.1',
      platform: 'plan9-arm64',
    });
    assert.equal(parsePackageName('dchat-2.0-linux-x64'), undefined);
    assert.equal(parsePackageName('other-1.0.0-linux-x64'), undefined);
  });

  test('any string: never throws; a result is a valid version and platform that rebuild the name', () => {
    const hostile = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc
        .array(fc.oneof(ident, fc.constantFrom(...OS, ...ARCH, 'dchat', '1.0.0', '', '..', '+b')), {
          maxLength: 6,
        })
        .map((p) => `dchat-${p.join('-')}`),
    );
    fc.assert(
      fc.property(hostile, (name) => {
        const r = parsePackageName(name);
        if (r === undefined) return;
        assert.ok(isValidVersion(r.version) && isValidPlatform(r.platform), JSON.stringify(r));
        assert.ok(name.startsWith(packageName(r.version, r.platform)), `${name} -> ${JSON.stringify(r)}`);
      }),
      { numRuns: 500 },
    );
  });

  test('parseVersion: any string is returned unchanged when valid SemVer, else E_MALFORMED', () => {
    fc.assert(
      fc.property(
        fc.oneof(version, fc.string({ unit: 'binary', maxLength: 70 }), fc.constant('1.0.0+build')),
        (v) => {
          const r = outcome(() => parseVersion(v), ['E_MALFORMED']);
          assert.equal(r.ok, isValidVersion(v));
          if (r.ok) assert.equal(r.value, v);
        },
      ),
      { numRuns: 300 },
    );
  });
});
