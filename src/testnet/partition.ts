/**
 * `dchat-test chaos-partition`: the honest nodes split in two halves through each node's
 * connection gater (control method `partition`, node/partition.ts) for a duration, the release
 * announced in the first half only, then the split healed by the bans lapsing. The run records
 * what each half held while split, so a report shows the partition really held and both halves
 * converged after it.
 */
import { controlRequest } from '../node/control.ts';
import { homePaths } from '../store/home.ts';
import { sleep } from '../util/sleep.ts';
import type { NodeProcess } from './process.ts';

export interface Split {
  a: NodeProcess[];
  b: NodeProcess[];
  endsAt: number;
}

/** Splits `honest` (the first half keeps the origin) for `ms`; every node refuses the other half. */
export async function splitNetwork(honest: readonly NodeProcess[], ms: number): Promise<Split> {
  const half = Math.ceil(honest.length / 2);
  const a = honest.slice(0, half);
  const b = honest.slice(half);
  const endsAt = Date.now() + ms;
  const refuse = (side: NodeProcess[], other: NodeProcess[]) =>
    Promise.all(
      side.map((p) =>
        controlRequest(homePaths(p.home), 'partition', { peers: other.map((o) => o.peerId), ms }, 10_000),
      ),
    );
  await Promise.all([refuse(a, b), refuse(b, a)]);
  return { a, b, endsAt };
}

export interface SplitOutcome {
  /** First-half nodes holding the verified release before the heal. */
  a_verified_while_split: number;
  /** Second-half nodes holding it before the heal (0 when the partition held). */
  b_verified_while_split: number;
  /** Cross-half connections seen while split (0 when the gater held). */
  cross_connections_while_split: number;
}

/**
 * Watches the split until it ends: which nodes hold `target`, and whether any node is connected
 * across the halves. `holds` and `peersOf` read a node's status.
 */
export async function watchSplit(
  s: Split,
  holds: (p: NodeProcess) => Promise<boolean>,
  peersOf: (p: NodeProcess) => Promise<string[]>,
): Promise<SplitOutcome> {
  const bIds = new Set(s.b.map((p) => p.peerId));
  const aIds = new Set(s.a.map((p) => p.peerId));
  let cross = 0;
  const out = { aHeld: new Set<string>(), bHeld: new Set<string>() };
  // Stop looking a second before the bans lapse: what is seen after that is the heal.
  while (Date.now() < s.endsAt - 1000) {
    for (const p of s.a) {
      if (await holds(p)) out.aHeld.add(p.peerId);
      cross += (await peersOf(p)).filter((id) => bIds.has(id)).length;
    }
    for (const p of s.b) {
      if (await holds(p)) out.bHeld.add(p.peerId);
      cross += (await peersOf(p)).filter((id) => aIds.has(id)).length;
    }
    await sleep(Math.min(1000, Math.max(0, s.endsAt - 1000 - Date.now())));
  }
  if (Date.now() < s.endsAt) await sleep(s.endsAt - Date.now());
  return {
    a_verified_while_split: out.aHeld.size,
    b_verified_while_split: out.bHeld.size,
    cross_connections_while_split: cross,
  };
}
