import type { Rng } from '../gossip/core/rng.ts';

/**
 * An undirected peer graph in compressed sparse row form: the neighbours of node i are
 * neighbors[offsets[i] .. offsets[i+1]). Two typed arrays for the whole graph, whatever its size.
 */
export interface Topology {
  n: number;
  offsets: Int32Array;
  neighbors: Int32Array;
}

export interface DegreeStats {
  edges: number;
  min: number;
  max: number;
  mean: number;
  /** Connected components before repair (1 for a connected graph). */
  components: number;
}

/**
 * A random "regular-ish" graph, as peers that dial random others until they have enough
 * connections: every node aims at a degree drawn from [minDegree, maxDegree]. Components left apart (rare) are joined to the largest one, so every
 * node is reachable and coverage below 100% is the protocol's doing, not the graph's.
 */
export function randomTopology(n: number, minDegree: number, maxDegree: number, rng: Rng): Topology {
  const cap = Math.min(maxDegree, n - 1);
  const lo = Math.min(minDegree, cap);
  const adj = new Int32Array(n * Math.max(cap, 1) + 1);
  const deg = new Int32Array(n);
  const linked = (i: number, j: number): boolean => {
    const base = i * cap;
    for (let k = 0; k < (deg[i] as number); k++) if (adj[base + k] === j) return true;
    return false;
  };
  // Each node wants a degree in [minDegree, maxDegree] and accepts links only up to it, so the
  // degrees stay spread over the range instead of piling up at the maximum.
  const target = new Int32Array(n);
  for (let i = 0; i < n; i++) target[i] = lo + rng.int(cap - lo + 1);
  const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
  const extra: number[] = [];
  for (const i of order) {
    const want = target[i] as number;
    let attempts = 0;
    while ((deg[i] as number) < want && attempts++ < 40 * cap) {
      const j = rng.int(n);
      if (j === i || (deg[j] as number) >= (target[j] as number) || linked(i, j)) continue;
      adj[i * cap + (deg[i] as number)] = j;
      adj[j * cap + (deg[j] as number)] = i;
      deg[i] = (deg[i] as number) + 1;
      deg[j] = (deg[j] as number) + 1;
    }
  }
  const lists = (i: number) => adj.subarray(i * cap, i * cap + (deg[i] as number));
  // Join stray components to the largest, one edge each (may exceed maxDegree by one).
  const comp = components(n, (i) => lists(i));
  if (comp.count > 1) {
    const sizes = new Int32Array(comp.count);
    for (let i = 0; i < n; i++) {
      const c = comp.of[i] as number;
      sizes[c] = (sizes[c] as number) + 1;
    }
    let main = 0;
    for (let c = 1; c < comp.count; c++) if ((sizes[c] as number) > (sizes[main] as number)) main = c;
    const members: number[] = [];
    for (let i = 0; i < n; i++) if (comp.of[i] === main) members.push(i);
    const joined = new Uint8Array(comp.count);
    joined[main] = 1;
    for (let i = 0; i < n; i++) {
      const c = comp.of[i] as number;
      if (joined[c]) continue;
      joined[c] = 1;
      extra.push(i, members[rng.int(members.length)] as number);
    }
  }
  return build(n, (emit) => {
    for (let i = 0; i < n; i++) for (const j of lists(i)) if (i < j) emit(i, j);
    for (let k = 0; k < extra.length; k += 2) emit(extra[k] as number, extra[k + 1] as number);
  });
}

/** Nodes 0 - 1 - 2 - ... - (n-1): the worst case for a hop bound. */
export function lineTopology(n: number): Topology {
  return build(n, (emit) => {
    for (let i = 0; i + 1 < n; i++) emit(i, i + 1);
  });
}

/** A line closed into a ring. */
export function ringTopology(n: number): Topology {
  return build(n, (emit) => {
    for (let i = 0; i + 1 < n; i++) emit(i, i + 1);
    if (n > 2) emit(n - 1, 0);
  });
}

export function neighborsOf(t: Topology, i: number): Int32Array {
  return t.neighbors.subarray(t.offsets[i] as number, t.offsets[i + 1] as number);
}

export function degreeStats(t: Topology): DegreeStats {
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  for (let i = 0; i < t.n; i++) {
    const d = (t.offsets[i + 1] as number) - (t.offsets[i] as number);
    if (d < min) min = d;
    if (d > max) max = d;
  }
  return {
    edges: t.neighbors.length / 2,
    min: t.n === 0 ? 0 : min,
    max,
    mean: t.n === 0 ? 0 : t.neighbors.length / t.n,
    components: components(t.n, (i) => neighborsOf(t, i)).count,
  };
}

/** Builds CSR from an edge enumeration (each undirected edge emitted once). */
function build(n: number, edges: (emit: (i: number, j: number) => void) => void): Topology {
  const deg = new Int32Array(n);
  edges((i, j) => {
    deg[i] = (deg[i] as number) + 1;
    deg[j] = (deg[j] as number) + 1;
  });
  const offsets = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) offsets[i + 1] = (offsets[i] as number) + (deg[i] as number);
  const neighbors = new Int32Array(offsets[n] as number);
  const fill = offsets.slice(0, n);
  edges((i, j) => {
    const fi = fill[i] as number;
    const fj = fill[j] as number;
    neighbors[fi] = j;
    neighbors[fj] = i;
    fill[i] = fi + 1;
    fill[j] = fj + 1;
  });
  return { n, offsets, neighbors };
}

function components(n: number, adj: (i: number) => ArrayLike<number>): { count: number; of: Int32Array } {
  const of = new Int32Array(n).fill(-1);
  const stack = new Int32Array(n);
  let count = 0;
  for (let s = 0; s < n; s++) {
    if ((of[s] as number) >= 0) continue;
    let top = 0;
    stack[top++] = s;
    of[s] = count;
    while (top > 0) {
      const u = stack[--top] as number;
      const nb = adj(u);
      for (let k = 0; k < nb.length; k++) {
        const v = nb[k] as number;
        if ((of[v] as number) < 0) {
          of[v] = count;
          stack[top++] = v;
        }
      }
    }
    count++;
  }
  return { count, of };
}
