/**
 * parseLogSpec (src/log/logger.ts), the DCHAT_LOG / RUST_LOG parser: never throws on any string,
 * and only ever yields pino level names.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseLogSpec } from '../../src/log/logger.ts';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

describe('parseLogSpec', () => {
  test("the seed's syntax: a default level and per-component levels", () => {
    const c = parseLogSpec('dchat::gossip=debug,info');
    assert.equal(c.defaultLevel, 'info');
    assert.deepEqual([...c.components], [['gossip', 'debug']]);
    assert.equal(parseLogSpec('dchat_distribution=trace').defaultLevel, 'trace');
    assert.equal(parseLogSpec(undefined).defaultLevel, 'warn');
    assert.equal(parseLogSpec('loud,gossip=verbose').defaultLevel, 'warn');
    assert.equal(parseLogSpec('loud,gossip=verbose').components.size, 0);
  });

  test('any string: never throws, every level is a pino level', () => {
    const token = fc.oneof(
      fc.constantFrom(...LEVELS, 'INFO', 'dchat', 'gossip', '::', '=', ',', ' ', 'dchat::download'),
      fc.string({ unit: 'binary', maxLength: 8 }),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 60 }),
          fc.array(token, { maxLength: 12 }).map((t) => t.join('')),
        ),
        (spec) => {
          const c = parseLogSpec(spec);
          assert.ok(LEVELS.includes(c.defaultLevel), c.defaultLevel);
          for (const [name, level] of c.components) {
            assert.ok(LEVELS.includes(level), level);
            assert.ok(name.length > 0 && !name.includes('::'), name);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
