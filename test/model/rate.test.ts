/** Rates in one unit convention (model/rate.ts): what --limit-rate reads is what the bar shows. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatEta, formatRate, parseRate } from '../../src/model/rate.ts';

test('binary units: 24M is 24 MiB/s and is shown as 24.0 MiB/s', () => {
  assert.equal(parseRate('24M'), 24 * 1024 * 1024);
  assert.equal(parseRate('24MiB/s'), 24 * 1024 * 1024);
  assert.equal(parseRate('500K'), 512_000);
  assert.equal(parseRate('1048576'), 1048576);
  assert.equal(formatRate(parseRate('24M') as number), '24.0 MiB/s');
  assert.equal(formatRate(parseRate('500K') as number), '500.0 KiB/s');
  for (const bad of ['fast', '-1', '', '1e9', '10 MB/s/s', '9'.repeat(40)])
    assert.equal(parseRate(bad), undefined, bad);
});

test('property: every whole K/M/G rate shown is read back as the same number of bytes/s', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 1023 }), fc.constantFrom('K', 'M', 'G'), (n, u) => {
      const bps = parseRate(`${n}${u}`) as number;
      const shown = formatRate(bps).replace(/\/s$/, '').replace(' ', '');
      const back = parseRate(shown.replace('.0', ''));
      return back === bps;
    }),
  );
});

test('property: parseRate never throws and returns a safe integer or undefined', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (s) => {
      const r = parseRate(s);
      return r === undefined || Number.isSafeInteger(r);
    }),
  );
});

test('ETA: m:ss, h:mm:ss, unknown without a rate', () => {
  assert.equal(formatEta(10 * 1024 * 1024, 1024 * 1024), '0:10');
  assert.equal(formatEta(3600 * 2 + 61, 1), '2:01:01');
  assert.equal(formatEta(100, 0), '--:--');
});
