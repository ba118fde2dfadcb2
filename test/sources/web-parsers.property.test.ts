/**
 * Property tests of what the web sources parse from the network or the environment: redirect
 * Locations, Link headers, no_proxy lists, F-Droid signed jars and index documents. Each either
 * returns something that keeps its promise (no downgrade, no loop, no cross-origin page, only the
 * signed entry) or fails with one of its coded errors; nothing crashes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import { apksFromV1, apksFromV2, parseEntry, verifiedJarEntry } from '../../src/sources/fdroid-index.ts';
import { nextLink } from '../../src/sources/github.ts';
import { bypassed, proxyFor } from '../../src/sources/proxy-env.ts';
import { isRedirect, nextHop } from '../../src/sources/redirect.ts';
import { hostileBytes, outcome, outcomeAsync } from '../helpers/fuzz.ts';

const isLoopback = (hostname: string) => /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(hostname);

const locations = fc.oneof(
  fc.webUrl({ withQueryParameters: true, withFragments: true }),
  fc.string({ maxLength: 200 }),
  fc.constantFrom(
    'http://127.0.0.1/x',
    'http://localhost:8/y',
    '//evil.example/z',
    '/rel',
    '../up',
    'javascript:x',
  ),
  fc.webPath(),
);
const froms = fc.constantFrom(
  new URL('https://mirror.example/dchat/a'),
  new URL('http://127.0.0.1:8080/m/a'),
  new URL('https://127.0.0.1:8443/m/a'),
);

test('property: a followed redirect is never plain http off loopback, never repeats, never past the cap', () => {
  fc.assert(
    fc.property(
      froms,
      fc.constantFrom(301, 302, 303, 307, 308),
      fc.option(locations, { nil: undefined }),
      fc.nat(12),
      (from, status, loc, extra) => {
        const chain = [from, ...Array.from({ length: extra }, (_, i) => new URL(`https://h${i}.example/`))];
        const r = outcome(() => nextHop(from, status, loc, chain), ['E_REDIRECT']);
        if (!r.ok) return;
        const next = r.value;
        assert.ok(
          next.protocol === 'https:' || (isLoopback(next.hostname) && isLoopback(from.hostname)),
          next.href,
        );
        assert.ok(!chain.some((u) => u.href === next.href));
        assert.ok(chain.length <= 11);
        assert.equal(next.username + next.password, '');
      },
    ),
    { numRuns: 500 },
  );
  assert.ok(isRedirect(302) && !isRedirect(200) && !isRedirect(304));
});

test('property: a Link header never sends the list elsewhere, and never throws', () => {
  const page = new URL('https://api.github.com/repos/o/r/releases?page=1');
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 400 }),
        fc
          .array(
            fc.tuple(
              fc.oneof(fc.webUrl(), fc.string({ maxLength: 40 })),
              fc.constantFrom('next', 'last', 'prev', 'next last'),
            ),
            {
              maxLength: 4,
            },
          )
          .map((parts) => parts.map(([u, rel]) => `<${u}>; rel="${rel}"`).join(', ')),
      ),
      (link) => {
        const next = nextLink(link, page);
        if (next) assert.equal(next.origin, page.origin);
      },
    ),
    { numRuns: 500 },
  );
});

test('property: no_proxy lists of any shape are read without throwing; * bypasses everything', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6()), (list, host) => {
      const h = host.includes(':') ? `[${host}]` : host;
      bypassed(h, list);
      assert.equal(bypassed(h, `${list},*`), true);
      assert.equal(bypassed(h, '*'), true);
      assert.equal(
        proxyFor(new URL(`https://${h}/`), { HTTPS_PROXY: 'http://p:1', NO_PROXY: '*' }),
        undefined,
      );
    }),
    { numRuns: 300 },
  );
});

const FIXTURE = new URL('../fixtures/fdroid/', import.meta.url);
const FP = readFileSync(new URL('fingerprint.txt', FIXTURE), 'utf8').trim();
const ENTRY_JAR = readFileSync(new URL('repo/entry.jar', FIXTURE));
const ENTRY_JSON = readFileSync(new URL('repo/entry.json', FIXTURE));
const JAR_CODES = ['E_MALFORMED', 'E_SIGNATURE', 'E_UNTRUSTED_KEY'] as const;

test('property: a signed jar with any byte changed yields the signed entry or a coded error', async () => {
  await fc.assert(
    fc.asyncProperty(fc.nat(ENTRY_JAR.byteLength - 1), fc.integer({ min: 1, max: 255 }), async (at, x) => {
      const jar = Buffer.from(ENTRY_JAR);
      jar[at] = (jar[at] as number) ^ x;
      const r = await outcomeAsync(() => verifiedJarEntry(jar, 'entry.json', FP, 'entry.jar'), JAR_CODES);
      // Bytes the signature does not cover (zip times, extra fields) may change; the entry may not.
      if (r.ok) assert.deepEqual(Buffer.from(r.value), ENTRY_JSON);
    }),
    { numRuns: 300 },
  );
});

test('property: hostile bytes as a jar or an index document are coded errors', async () => {
  await fc.assert(
    fc.asyncProperty(hostileBytes(), async (bytes) => {
      await outcomeAsync(() => verifiedJarEntry(bytes, 'entry.json', FP, 'x'), JAR_CODES);
      outcome(() => parseEntry(bytes, 'x'), ['E_MALFORMED']);
      outcome(() => apksFromV1(bytes, 'network.dchat.app', 'x'), ['E_MALFORMED']);
      const entry = parseEntry(ENTRY_JSON, 'entry.json');
      outcome(
        () => apksFromV2(bytes, { ...entry, index: { ...entry.index, size: bytes.byteLength } }, 'a', 'x'),
        ['E_MALFORMED', 'E_HASH_MISMATCH'],
      );
    }),
    { numRuns: 300 },
  );
});
