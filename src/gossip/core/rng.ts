/**
 * A small seeded PRNG (xoshiro128**, seeded through splitmix32). The gossip core and the
 * simulator draw every random choice from one of these, never from Math.random, so a run is a
 * pure function of its seed: a failing simulation or property test replays exactly.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    // splitmix32 spreads even tiny or adjacent seeds (0, 1, 2, ...) over the whole state.
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    // xoshiro must never be all zero; splitmix32 makes that astronomically unlikely, but be exact.
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const b = this.b;
    const r = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    this.c ^= this.a;
    this.d ^= b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r;
  }

  /** A uniform float in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** A uniform integer in [0, n). n must be a positive integer below 2^32. */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }

  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i] as T;
      items[i] = items[j] as T;
      items[j] = t;
    }
    return items;
  }

  /** Up to k distinct items of `items`, in random order (partial Fisher-Yates on a copy). */
  sample<T>(items: readonly T[], k: number): T[] {
    const pool = items.slice();
    const n = Math.min(k, pool.length);
    for (let i = 0; i < n; i++) {
      const j = i + this.int(pool.length - i);
      const t = pool[i] as T;
      pool[i] = pool[j] as T;
      pool[j] = t;
    }
    pool.length = n;
    return pool;
  }

  /** A version-4-shaped UUID drawn from this generator (deterministic ids for simulations and tests). */
  uuid(): string {
    const h = (n: number, len: number) => n.toString(16).padStart(len, '0').slice(-len);
    const w1 = this.u32();
    const w2 = this.u32();
    const w3 = this.u32();
    const w4 = this.u32();
    return `${h(w1, 8)}-${h(w2 >>> 16, 4)}-4${h(w2 & 0xfff, 3)}-${h(8 + (w3 >>> 30), 1)}${h((w3 >>> 16) & 0xfff, 3)}-${h(w3 & 0xffff, 4)}${h(w4, 8)}`;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A seed for the i-th member of a family (node i of a simulation), decorrelated from its neighbours. */
export function deriveSeed(seed: number, index: number): number {
  let z = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca77)) >>> 0;
  z = Math.imul(z ^ (z >>> 15), 0x2c1b3c6d);
  z = Math.imul(z ^ (z >>> 12), 0x297a2d39);
  return (z ^ (z >>> 15)) >>> 0;
}
