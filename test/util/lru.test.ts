import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Lru } from '../../src/util/lru.ts';

test('lru: evicts the least recently used, get refreshes, peek does not', () => {
  const c = new Lru<string, number>(2);
  assert.equal(c.set('a', 1), undefined);
  c.set('b', 2);
  assert.equal(c.get('a'), 1); // a is now newer than b
  assert.deepEqual(c.set('c', 3), ['b', 2]);
  assert.equal(c.has('b'), false);
  assert.equal(c.peek('a'), 1); // does not refresh: a stays oldest
  assert.deepEqual(c.set('d', 4), ['a', 1]);
  assert.deepEqual([...c.keys()], ['c', 'd']);
  assert.throws(() => new Lru(0), RangeError);
});

/** Reference model: an array from least to most recently used. */
class Model {
  readonly cap: number;
  items: [number, number][] = [];
  constructor(cap: number) {
    this.cap = cap;
  }
  get(k: number, touch: boolean): number | undefined {
    const i = this.items.findIndex(([x]) => x === k);
    if (i < 0) return undefined;
    const e = this.items[i] as [number, number];
    if (touch) this.items = [...this.items.slice(0, i), ...this.items.slice(i + 1), e];
    return e[1];
  }
  set(k: number, v: number): [number, number] | undefined {
    this.items = [...this.items.filter(([x]) => x !== k), [k, v]];
    return this.items.length > this.cap ? this.items.shift() : undefined;
  }
  delete(k: number): boolean {
    const n = this.items.length;
    this.items = this.items.filter(([x]) => x !== k);
    return this.items.length < n;
  }
}

test('property: behaves like the reference model and never exceeds its capacity', () => {
  const key = fc.integer({ min: 0, max: 12 });
  const op = fc.oneof(
    fc.record({ t: fc.constant('set' as const), k: key, v: fc.integer() }),
    fc.record({ t: fc.constant('get' as const), k: key }),
    fc.record({ t: fc.constant('peek' as const), k: key }),
    fc.record({ t: fc.constant('delete' as const), k: key }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 8 }), fc.array(op, { maxLength: 100 }), (cap, ops) => {
      const lru = new Lru<number, number>(cap);
      const model = new Model(cap);
      for (const o of ops) {
        if (o.t === 'set') assert.deepEqual(lru.set(o.k, o.v), model.set(o.k, o.v));
        else if (o.t === 'get') assert.equal(lru.get(o.k), model.get(o.k, true));
        else if (o.t === 'peek') assert.equal(lru.peek(o.k), model.get(o.k, false));
        else assert.equal(lru.delete(o.k), model.delete(o.k));
        assert.ok(lru.size <= cap);
        assert.deepEqual([...lru.entries()], model.items);
      }
    }),
  );
});
