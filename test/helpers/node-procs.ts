/**
 * Helpers for tests that run real `dchat node start` processes on loopback: start a user node
 * with --prefetch and bootstrap peers, poll a condition within a deadline, and see whether a
 * process is still there.
 */
import { type NodeProcess, spawnNode } from '../../src/testnet/process.ts';

/** Polls `fn` every 150 ms until it returns something truthy; throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** `dchat --home HOME node start --json --prefetch --platform P --bootstrap ...`, started. */
export function startUserNode(o: {
  name: string;
  home: string;
  platform: string;
  bootstrap: readonly NodeProcess[];
  /** Default true: fetch newly trusted releases from peers in the background. */
  prefetch?: boolean;
  /**
   * Only this kind of source for the background fetch (`--prefetch-source`); default `peer`, what
   * these tests are about (a node otherwise also takes bytes over IPFS from its peers).
   */
  prefetchSource?: string;
}): Promise<NodeProcess> {
  const args = ['--home', o.home, 'node', 'start', '--json', '--platform', o.platform];
  if (o.prefetch !== false) args.push('--prefetch', '--prefetch-source', o.prefetchSource ?? 'peer');
  for (const b of o.bootstrap) args.push('--bootstrap', b.addresses[0] as string);
  return spawnNode({ name: o.name, home: o.home, role: 'user', args });
}

/** True while process `pid` exists (signal 0 checks without sending anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
