/**
 * Swarm mode of the simulator (DESIGN.md swarm target): F bytes from one seed to N nodes in
 * virtual time, every node running the real download machine (src/download/machine) with the
 * seed and its neighbours as sources. A node serves every chunk it has verified; neighbours hear
 * of it (`sourceHas`) and may fetch it. Transfers are fluid: a fetch gets an equal share of its
 * uploader's upload and of its downloader's download, whichever is smaller, recomputed every
 * step. The result is compared with the Kumar-Ross lower bound for a file to N nodes,
 * max(F/u_s, F/d_min, N*F/(u_s + sum u_i)).
 */
import type { MachineAction } from '../download/machine/actions.ts';
import { DownloadMachine } from '../download/machine/machine.ts';
import { Rng } from '../gossip/core/rng.ts';
import { defaultPriority } from '../model/source-kind.ts';

export interface SwarmOptions {
  nodes: number;
  fileBytes: number;
  chunkBytes: number;
  /** Upload of the seed, bytes/s. */
  seedUploadBps: number;
  /** Each node's upload and download are drawn uniformly from these ranges, bytes/s. */
  uploadBps: readonly [number, number];
  downloadBps: readonly [number, number];
  /** Neighbours each node picks at random (links are both ways). */
  degree: number;
  /** Fetches a node runs at once. */
  parallel: number;
  /** Chunks per request at most (short runs: a chunk is never tied to a slow fetch for long). */
  runChunks: number;
  /** Requests an uploader serves at once (the others wait their turn, first come first served). */
  uploadSlots: number;
  /** Time to the first byte of a request, ms. */
  latencyMs: number;
  seed: number;
}

export const DEFAULT_SWARM: SwarmOptions = {
  nodes: 1000,
  fileBytes: 64 * 1024 * 1024,
  chunkBytes: 512 * 1024,
  seedUploadBps: 20e6,
  uploadBps: [2e6, 10e6],
  downloadBps: [20e6, 50e6],
  degree: 12,
  parallel: 8,
  runChunks: 1,
  uploadSlots: 4,
  latencyMs: 20,
  seed: 1,
};

export interface SwarmReport {
  format: 'dchat.sim-swarm/1';
  options: SwarmOptions;
  /** Virtual ms until the last node verified the last chunk (Infinity if some never did). */
  ms: number;
  boundMs: number;
  /** ms / boundMs. */
  ratio: number;
  /** Which term of the bound binds: seed, slowest download or total upload. */
  binding: 'seed' | 'download' | 'upload';
  completed: number;
  /** Completion times of the nodes, sorted (the curve). */
  doneMs: number[];
  /** Bytes uploaded by the seed, in files (1 = it sent the file once). */
  seedCopies: number;
  /** Sources the machines penalised (a request queued behind an uploader's slots looks stalled). */
  failures: number;
  wallMs: number;
}

/** max(F/u_s, F/d_min, N*F/(u_s + sum u_i)), ms, and which term it is. */
export function kumarRoss(
  fileBytes: number,
  seedUp: number,
  ups: readonly number[],
  downs: readonly number[],
): { ms: number; binding: SwarmReport['binding'] } {
  const seed = fileBytes / seedUp;
  const down = fileBytes / Math.min(...downs);
  const up = (ups.length * fileBytes) / (seedUp + ups.reduce((a, b) => a + b, 0));
  const ms = Math.max(seed, down, up) * 1000;
  const binding = ms === seed * 1000 ? 'seed' : ms === down * 1000 ? 'download' : 'upload';
  return { ms, binding };
}

interface Flow {
  node: number;
  /** Uploader: a node index, or -1 for the seed. */
  from: number;
  fetch: number;
  chunk: number;
  end: number;
  left: number;
  /** Bytes flow from this instant (request latency). */
  startsAt: number;
}

const SEED = 'seed';
/** Peers rank as the node ranks them (model/source-kind.ts); the seed just before them. */
const PEER = defaultPriority('peer');

export function runSwarm(partial: Partial<SwarmOptions> = {}): SwarmReport {
  const o: SwarmOptions = { ...DEFAULT_SWARM, ...partial };
  const started = performance.now();
  const rng = new Rng(o.seed);
  const n = o.nodes;
  const chunks = Math.ceil(o.fileBytes / o.chunkBytes);
  const len = (i: number) => Math.min(o.chunkBytes, o.fileBytes - i * o.chunkBytes);
  const draw = ([lo, hi]: readonly [number, number]) => lo + rng.next() * (hi - lo);
  const up = Array.from({ length: n }, () => draw(o.uploadBps));
  const down = Array.from({ length: n }, () => draw(o.downloadBps));
  const bound = kumarRoss(o.fileBytes, o.seedUploadBps, up, down);
  // Random neighbours, both ways.
  const peers: Set<number>[] = Array.from({ length: n }, () => new Set<number>());
  for (let i = 0; i < n; i++)
    for (let k = 0; k < Math.min(o.degree, n - 1); k++) {
      const j = rng.int(n);
      if (j !== i) {
        peers[i]?.add(j);
        peers[j]?.add(i);
      }
    }
  const machines = Array.from({ length: n }, (_, i) => {
    const m = new DownloadMachine(0, {
      chunkCount: chunks,
      chunkSize: o.chunkBytes,
      size: o.fileBytes,
      parallel: o.parallel,
      runBytes: o.runChunks * o.chunkBytes,
      minRateBps: 0,
      progressMs: Number.POSITIVE_INFINITY,
      checkpointMs: Number.POSITIVE_INFINITY,
      checkpointBytes: Number.POSITIVE_INFINITY,
      startAt: rng.int(chunks),
    });
    // The seed first: one of each node's fetches always goes there, so its upload never idles.
    m.sourceAdded(0, { id: SEED, priority: PEER - 1 });
    for (const j of peers[i] as Set<number>) m.sourceAdded(0, { id: `n${j}`, priority: PEER, partial: true });
    return m;
  });
  const flows = new Map<string, Flow>();
  const doneAt: number[] = new Array(n).fill(-1);
  const dirty = new Set<number>();
  let seedBytes = 0;
  let failures = 0;
  let now = 0;
  const key = (node: number, fetch: number) => `${node}:${fetch}`;
  const drain = (i: number) => {
    const m = machines[i] as DownloadMachine;
    for (let a: MachineAction | undefined = m.poll(); a !== undefined; a = m.poll()) {
      if (a.type === 'fetch') {
        const from = a.source === SEED ? -1 : Number(a.source.slice(1));
        m.requestSent(a.source);
        flows.set(key(i, a.fetch), {
          node: i,
          from,
          fetch: a.fetch,
          chunk: a.start,
          end: a.end,
          left: len(a.start),
          startsAt: now + o.latencyMs,
        });
      } else if (a.type === 'shrink') {
        const f = flows.get(key(i, a.fetch));
        if (f) f.end = Math.min(f.end, a.end);
      } else if (a.type === 'cancel') {
        if (flows.delete(key(i, a.fetch))) {
          m.fetchEnded(now, a.fetch, { code: 'E_ABORTED', message: a.reason });
          dirty.add(i);
        }
      } else if (a.type === 'done' && doneAt[i] === -1) doneAt[i] = now;
      else if (a.type === 'source-failed') failures++;
    }
  };
  for (let i = 0; i < n; i++) {
    machines[i]?.begin(0);
    drain(i);
  }
  const dt = Math.max(1, bound.ms / 400);
  const horizon = 20 * bound.ms;
  const nDown = new Float64Array(n);
  let left = n;
  while (left > 0 && now < horizon) {
    now += dt;
    nDown.fill(0);
    // Rates: a downloader splits its download evenly; an uploader shares its upload max-min
    // fairly among its fetches under those caps (what one TCP bottleneck per side gives).
    const byUploader = new Map<number, Flow[]>();
    for (const f of flows.values()) {
      if (f.startsAt >= now) continue;
      const list = byUploader.get(f.from);
      if (list) list.push(f);
      else byUploader.set(f.from, [f]);
    }
    for (const list of byUploader.values())
      for (const f of list.slice(0, o.uploadSlots)) nDown[f.node] = (nDown[f.node] as number) + 1;
    const rateOf = new Map<Flow, number>();
    for (const [from, all] of byUploader) {
      const cap = (f: Flow) => (down[f.node] as number) / (nDown[f.node] as number);
      // Insertion order is arrival order: the first `uploadSlots` requests are served.
      const list = all.slice(0, o.uploadSlots).sort((a, b) => cap(a) - cap(b));
      let rest = from < 0 ? o.seedUploadBps : (up[from] as number);
      list.forEach((f, k) => {
        const r = Math.min(cap(f), rest / (list.length - k));
        rateOf.set(f, r);
        rest -= r;
      });
    }
    for (const [k, f] of flows) {
      if (f.startsAt >= now) continue;
      const rate = rateOf.get(f) ?? 0;
      let budget = (rate * Math.min(dt, now - f.startsAt)) / 1000;
      const m = machines[f.node] as DownloadMachine;
      while (budget > 0 && flows.get(k) === f) {
        const take = Math.min(budget, f.left);
        budget -= take;
        f.left -= take;
        if (f.from < 0) seedBytes += take;
        if (f.left > 1e-6) break;
        const c = f.chunk;
        m.received(now, f.fetch, len(c));
        if (m.chunkVerified(now, f.fetch, c))
          for (const j of peers[f.node] as Set<number>) {
            machines[j]?.sourceHas(`n${f.node}`, c);
            dirty.add(j);
          }
        drain(f.node);
        if (flows.get(k) !== f) break;
        f.chunk++;
        if (f.chunk >= f.end) {
          flows.delete(k);
          m.fetchEnded(now, f.fetch);
          drain(f.node);
          break;
        }
        f.left = len(f.chunk);
      }
    }
    const busy = new Uint16Array(n);
    for (const f of flows.values()) busy[f.node] = (busy[f.node] as number) + 1;
    for (let i = 0; i < n; i++) {
      // A node with every fetch slot taken has nothing to decide until one ends; otherwise it
      // looks again when a neighbour got a chunk, or when its machine asked for the time.
      if (doneAt[i] !== -1 || (busy[i] as number) >= o.parallel) continue;
      const m = machines[i] as DownloadMachine;
      if (!dirty.has(i) && m.pollTimeout() > now) continue;
      m.tick(now);
      drain(i);
    }
    dirty.clear();
    left = doneAt.filter((t) => t === -1).length;
  }
  const doneMs = doneAt.filter((t) => t >= 0).sort((a, b) => a - b);
  const ms = left > 0 ? Number.POSITIVE_INFINITY : (doneMs.at(-1) ?? 0);
  return {
    format: 'dchat.sim-swarm/1',
    options: o,
    ms,
    boundMs: bound.ms,
    ratio: ms / bound.ms,
    binding: bound.binding,
    completed: doneMs.length,
    doneMs,
    seedCopies: seedBytes / o.fileBytes,
    failures,
    wallMs: Math.round(performance.now() - started),
  };
}

export function formatSwarm(r: SwarmReport): string {
  const o = r.options;
  const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB/s`;
  return [
    `🐝 Swarm simulation: ${(o.fileBytes / 2 ** 20).toFixed(0)} MiB to ${o.nodes} nodes in ${Math.ceil(o.fileBytes / o.chunkBytes)} chunks, seed ${o.seed}`,
    `   seed upload ${mb(o.seedUploadBps)}; nodes upload ${mb(o.uploadBps[0])}..${mb(o.uploadBps[1])}, download ${mb(o.downloadBps[0])}..${mb(o.downloadBps[1])}; ${o.degree} neighbours, ${o.parallel} fetches each`,
    `   all verified at   ${Number.isFinite(r.ms) ? `${(r.ms / 1000).toFixed(2)} s` : `never (${r.completed}/${o.nodes})`}`,
    `   Kumar-Ross bound  ${(r.boundMs / 1000).toFixed(2)} s (${r.binding} term binds)`,
    `   ratio             ${r.ratio.toFixed(3)}x (DESIGN target <= 1.3x)`,
    `   seed sent         ${r.seedCopies.toFixed(2)} copies of the file`,
  ].join('\n');
}
