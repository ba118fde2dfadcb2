/**
 * A loopback TCP port that is free now and stays free while nothing of ours binds it: testnet
 * nodes, trackers and test servers are given a fixed port first and bind it later, and a node
 * stopped for minutes (a late node, a switch) comes back on the same port.
 *
 * Why not `listen(0)`: the kernel hands out such ports from its ephemeral range, the same range
 * it draws from for every outgoing connection and every other `listen(0)` on the machine. A port
 * read that way and released is soon taken again by some other process's connection (a late
 * node's restart failed so in a clean-clone run, with the main suite running beside it). Ports
 * below the ephemeral range are only ever taken by someone binding them by number.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Lowest port tried: above the well-known and most registered service ports. */
const LOWEST = 10_000;
const ATTEMPTS = 64;

/** The first port of the kernel's ephemeral range (Linux's default when it cannot be read). */
export function ephemeralStart(): number {
  try {
    const lo = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(lo) && lo > 0 && lo <= 65_535) return lo;
  } catch {
    // Not Linux, or /proc not mounted: the default below.
  }
  return 32_768;
}

/** Binds `port` (0: any) on 127.0.0.1 and releases it; the bound port, or null if taken. */
function tryPort(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(null));
    s.listen(port, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(a && typeof a === 'object' ? a.port : null));
    });
  });
}

/**
 * A free port below the ephemeral range, picked at random (so concurrent callers rarely meet);
 * a kernel-chosen one if the range leaves no room below it or every attempt was taken.
 */
export async function freePort(): Promise<number> {
  const top = ephemeralStart();
  if (top - LOWEST >= 1_000)
    for (let i = 0; i < ATTEMPTS; i++) {
      const p = await tryPort(LOWEST + Math.floor(Math.random() * (top - LOWEST)));
      if (p !== null) return p;
    }
  const p = await tryPort(0);
  if (p === null) throw new Error('no free loopback port');
  return p;
}
