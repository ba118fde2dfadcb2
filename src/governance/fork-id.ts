/**
 * The fork id (EIP-2124), pure: which chain of hard forks a node is on, small enough for every
 * handshake. FORK_HASH = CRC32 over the genesis hash, then each hard fork's height as a uint64
 * big-endian, in order, for the forks at or below the node's height; FORK_NEXT = the next
 * scheduled hard fork's height, 0 if none. With only heights this is EIP-2124 exactly (its
 * Ethereum mainnet vectors hold, test/governance/fork-id.test.ts); a dchat upgrade also folds its
 * version's UTF-8 bytes in after its height, so two releases scheduled at one height differ.
 *
 * `checkForkId` is EIP-2124's validation (as go-ethereum's core/forkid applies it): same hash and
 * no passed fork unknown to the peer -> talk; the peer is behind on a fork we passed but knows of
 * it -> talk (it is syncing); the peer is ahead on forks we know -> talk (we are syncing);
 * anything else -> refuse. Soft forks are not in the hash: they are ruled by the peer's version
 * against the upgrades' min_compatible_version (`checkPeerVersion`).
 */
import { crc32 } from 'node:zlib';
import { compareVersions } from '../model/version.ts';

/** A hard fork as the fork id sees it: activation height and, for dchat upgrades, the version. */
export interface ForkPoint {
  height: number;
  version?: string;
}

/** An upgrade known to a node (from an approved certificate): what the fork rules need of it. */
export interface ScheduledUpgrade {
  version: string;
  activation_height: number;
  fork: 'hard' | 'soft';
  min_compatible_version?: string;
}

export interface ForkId {
  /** CRC32 as 8 lowercase hex digits. */
  hash: string;
  /** Next hard fork's height, 0 when none is scheduled. */
  next: number;
}

export type ForkCheck =
  | { ok: true }
  | {
      ok: false;
      /** EIP-2124's two errors: the peer missed a fork we passed; or we cannot follow the peer. */
      reason: 'remote-stale' | 'local-incompatible-or-stale';
      message: string;
    };

function uint64be(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** CRC32 of the genesis hash (hex, 32 bytes). */
export function genesisChecksum(genesisHash: string): number {
  return crc32(Buffer.from(genesisHash, 'hex'));
}

/** The checksum after one more fork. */
export function checksumUpdate(sum: number, fork: ForkPoint): number {
  let s = crc32(uint64be(fork.height), sum);
  if (fork.version !== undefined) s = crc32(Buffer.from(fork.version, 'utf8'), s);
  return s;
}

export function checksumHex(sum: number): string {
  return (sum >>> 0).toString(16).padStart(8, '0');
}

/**
 * Sorted by height, without height-0 forks (active since genesis, EIP-2124 leaves them out) and
 * with repeats of one height and version merged (EIP-2124: forks at one block count once).
 */
export function normalizeForks(forks: readonly ForkPoint[]): ForkPoint[] {
  const sorted = forks
    .filter((f) => f.height > 0)
    .slice()
    .sort((a, b) => a.height - b.height || cmp(a.version ?? '', b.version ?? ''));
  const out: ForkPoint[] = [];
  for (const f of sorted) {
    const last = out[out.length - 1];
    if (last && last.height === f.height && last.version === f.version) continue;
    out.push(f);
  }
  return out;
}

/** The hard forks of a schedule, as fork points. */
export function hardForks(upgrades: readonly ScheduledUpgrade[]): ForkPoint[] {
  return normalizeForks(
    upgrades
      .filter((u) => u.fork === 'hard')
      .map((u) => ({ height: u.activation_height, version: u.version })),
  );
}

/** The fork id of a node at `head` on the genesis `genesisHash` with these hard forks. */
export function forkIdOf(genesisHash: string, forks: readonly ForkPoint[], head: number): ForkId {
  let sum = genesisChecksum(genesisHash);
  for (const f of normalizeForks(forks)) {
    if (f.height > head) return { hash: checksumHex(sum), next: f.height };
    sum = checksumUpdate(sum, f);
  }
  return { hash: checksumHex(sum), next: 0 };
}

/** EIP-2124 validation of a peer's fork id against our genesis, forks and head. */
export function checkForkId(
  genesisHash: string,
  forkList: readonly ForkPoint[],
  head: number,
  remote: ForkId,
): ForkCheck {
  const forks = normalizeForks(forkList);
  const sums: string[] = [];
  let sum = genesisChecksum(genesisHash);
  sums.push(checksumHex(sum));
  for (const f of forks) {
    sum = checksumUpdate(sum, f);
    sums.push(checksumHex(sum));
  }
  // A sentinel fork past every height, so the first fork not yet passed always exists.
  const heights = [...forks.map((f) => f.height), Number.POSITIVE_INFINITY];
  for (let i = 0; i < heights.length; i++) {
    if (head >= (heights[i] as number)) continue;
    // sums[i] is our current fork hash.
    if (sums[i] === remote.hash) {
      // 1a: the peer announces a fork at a height we already passed without it.
      if (remote.next > 0 && head >= remote.next)
        return refuse(
          'local-incompatible-or-stale',
          `peer schedules a fork at height ${remote.next}, which this node passed without it`,
        );
      return { ok: true };
    }
    // 2: the peer is on an earlier fork of ours; fine if it knows the next one (it is syncing).
    for (let j = 0; j < i; j++)
      if (sums[j] === remote.hash) {
        if (heights[j] !== remote.next)
          return refuse(
            'remote-stale',
            `peer is on fork ${remote.hash} and does not know the hard fork at height ${heights[j]}`,
          );
        return { ok: true };
      }
    // 3: the peer is on a later fork of ours (we are behind).
    for (let j = i + 1; j < sums.length; j++) if (sums[j] === remote.hash) return { ok: true };
    break;
  }
  return refuse(
    'local-incompatible-or-stale',
    `peer fork ${remote.hash} (next ${remote.next}) is not on this node's fork chain`,
  );
}

/**
 * Soft forks: a peer keeps talking while its version is at least the min_compatible_version of
 * every upgrade activated at `head` (undefined: fine; a string: why not).
 */
export function checkPeerVersion(
  upgrades: readonly ScheduledUpgrade[],
  head: number,
  peerVersion: string,
): string | undefined {
  for (const u of upgrades) {
    if (u.activation_height > head || !u.min_compatible_version) continue;
    let below: boolean;
    try {
      below = compareVersions(peerVersion, u.min_compatible_version) < 0;
    } catch {
      return `peer version '${peerVersion.slice(0, 40)}' is not a version`;
    }
    if (below)
      return `peer runs ${peerVersion}, below ${u.min_compatible_version}, the minimum since ${u.version} activated at height ${u.activation_height}`;
  }
  return undefined;
}

function refuse(reason: 'remote-stale' | 'local-incompatible-or-stale', message: string): ForkCheck {
  return { ok: false, reason, message };
}

/** `a` is a version at or above `b` (false when either is not a version). */
function notBelow(a: string, b: string): boolean {
  try {
    return compareVersions(a, b) >= 0;
  } catch {
    return false;
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** What a node knows that the fork rules need: its genesis, the upgrades it knows, its height. */
export interface ForkView {
  networkId: string;
  genesisHash: string;
  upgrades: readonly ScheduledUpgrade[];
  /** The accepted height; 0 before any. */
  head: number;
}

/** The fork id this node announces. */
export function forkIdOfView(v: ForkView): ForkId {
  return forkIdOf(v.genesisHash, hardForks(v.upgrades), v.head);
}

/** A peer's handshake as the fork rules need it (model/hello.ts). */
export interface PeerForkClaim {
  network_id: string | null;
  fork: ForkId | null;
  version: string;
  /** The height the peer says it is at (its hello), when it says. */
  height?: number | null;
}

/**
 * The fork rules on one peer: undefined to keep talking, or why not. A node without a genesis
 * (`local` undefined), or a peer that names none, is judged by nothing here. `ownVersion`, the
 * version this node runs: a node itself below an activated upgrade's minimum (switching at this
 * very height, or left behind) does not refuse peers for running its own version or above: at the
 * height every node is on the old version for the seconds of its switch, and refusing each other
 * then would ban every peer for the refusal period, the freshly switched ones included. Upgraded
 * nodes still refuse it.
 */
export function judgePeer(
  local: ForkView | undefined,
  peer: PeerForkClaim,
  ownVersion?: string,
): { code: 'E_WRONG_NETWORK' | 'E_FORK_MISMATCH'; reason: string } | undefined {
  if (!local || peer.network_id === null || peer.fork === null) return undefined;
  if (peer.network_id !== local.networkId)
    return {
      code: 'E_WRONG_NETWORK',
      reason: `peer is on network ${peer.network_id}, not ${local.networkId}`,
    };
  const forks = hardForks(local.upgrades);
  const f = checkForkId(local.genesisHash, forks, local.head, peer.fork);
  if (!f.ok && !catchingUp(local.genesisHash, forks, local.head, peer, f.reason))
    return { code: 'E_FORK_MISMATCH', reason: `${f.reason}: ${f.message}` };
  // A peer that has not reached an activation height yet is syncing, not left behind: judging its
  // version at our height would cut it off from the very beacons that bring it to the height (and
  // to its own switch), so a node one block behind, or back from being offline, could never catch up.
  const peerHead =
    peer.height === undefined || peer.height === null ? local.head : Math.min(local.head, peer.height);
  const v = checkPeerVersion(local.upgrades, peerHead, peer.version);
  if (
    v &&
    !(
      ownVersion !== undefined &&
      notBelow(peer.version, ownVersion) &&
      checkPeerVersion(local.upgrades, peerHead, ownVersion)
    )
  )
    return { code: 'E_FORK_MISMATCH', reason: v };
  return undefined;
}

/**
 * Where dchat departs from EIP-2124: Ethereum ships its fork schedule in the software, so a peer
 * that does not know a fork runs old software. Here a fork is learned from the network (an approved
 * certificate, by gossip), so a node that was offline when the upgrade was approved cannot know it
 * until it talks to someone who does; refusing it then would keep it off the network for good. Two
 * such cases keep talking, each judged by the height the peer says (its hello):
 *  - remote-stale, but the peer is below the height of the first fork it misses: it has not
 *    reached that fork, it is behind (back from being offline) and learns it by anti-entropy;
 *  - local-incompatible-or-stale, and the peer is above our height: it may have passed forks we
 *    have not learned yet; we are the one catching up (when we learn them our fork id changes and
 *    the fork guard judges every peer again, now knowing).
 * A peer that says no height, or is past a fork it does not know, is refused as before: the node
 * kept on an old version past the height still is. The soft-fork version rule applies either way.
 */
export function catchingUp(
  genesisHash: string,
  forks: readonly ForkPoint[],
  head: number,
  peer: PeerForkClaim,
  reason: 'remote-stale' | 'local-incompatible-or-stale',
): boolean {
  const h = peer.height;
  if (h === undefined || h === null || peer.fork === null) return false;
  if (reason === 'local-incompatible-or-stale') return h > head;
  const list = normalizeForks(forks);
  let sum = genesisChecksum(genesisHash);
  for (const f of list) {
    // The peer's hash is ours before fork f: f is the first fork it misses.
    if (checksumHex(sum) === peer.fork.hash) return h < f.height;
    sum = checksumUpdate(sum, f);
  }
  return false;
}
