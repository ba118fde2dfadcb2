/**
 * A map bounded in entry count that forgets the least recently used entry first: the memory for
 * anything keyed by what a peer sends (peer ids, message ids, verdicts) must have a cap. A Map
 * keeps insertion order, so re-inserting on use makes the first key the least recently used and
 * every operation O(1). Pure: no clock; time-bounded caches keep their own expiry in the value.
 */
export class Lru<K, V> {
  readonly capacity: number;
  private readonly map = new Map<K, V>();

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('lru: capacity must be an integer >= 1');
    this.capacity = capacity;
  }

  get size(): number {
    return this.map.size;
  }

  /** The value for `key`, marking it most recently used. */
  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }

  /** The value for `key` without touching its recency. */
  peek(key: K): V | undefined {
    return this.map.get(key);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /**
   * Stores `value` as the most recently used entry. Returns the entry evicted to make room, if
   * any, so a caller can release what it held.
   */
  set(key: K, value: V): [K, V] | undefined {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size <= this.capacity) return undefined;
    const oldest = this.map.entries().next().value as [K, V];
    this.map.delete(oldest[0]);
    return oldest;
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }

  /** Entries from least to most recently used. */
  entries(): IterableIterator<[K, V]> {
    return this.map.entries();
  }

  keys(): IterableIterator<K> {
    return this.map.keys();
  }
}
