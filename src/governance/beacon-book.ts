/**
 * What a node makes of the height beacons it receives (pure, no I/O, no clock): signatures are
 * checked against the validator set from the trusted genesis, gathered per beacon, and a beacon
 * becomes the node's height once signatures from >= 2/3 of stake agree on it, byte for byte.
 *
 * Chain rule: an accepted beacon must follow the accepted tip. The next height must name the tip
 * as `prev`; a later height may skip heights whose beacons this node never saw (a late node
 * catching up from one certified beacon, as a light client skips), but never build on an older
 * accepted beacon or on the genesis once a tip exists. Replays of old heights are harmless.
 *
 * Caps: signatures per beacon (the validator count), pending signatures per validator
 * (MAX_PENDING_PER_VALIDATOR, its lowest heights dropped first), accepted hashes remembered
 * (MAX_HISTORY). A validator that signs two beacons for one height (equivocation) is counted;
 * each signature counts only for the beacon it signs, so with less than 1/3 of stake faulty at
 * most one beacon per height can reach the quorum, and the result does not depend on the order
 * in which signatures arrive.
 */
import { DchatError, type ErrorCode } from '../errors.ts';
import { BEACON_FORMAT, type BeaconStatement, type SignedBeacon, statementOf } from '../model/beacon.ts';
import {
  type BeaconParams,
  type BeaconTip,
  type BeaconValidatorSet,
  beaconHash,
  short,
  timeOfHeight,
  verifyBeaconSignature,
} from './beacon.ts';
import type { HeightSource } from './height-source.ts';

export const MAX_PENDING_PER_VALIDATOR = 8;
export const MAX_HISTORY = 1024;

export type BeaconVerdict =
  /** The tip moved to this beacon: `certificate` carries the signatures that make its quorum. */
  | { ok: true; status: 'accepted'; hash: string; height: number; certificate: SignedBeacon }
  /** Valid new signatures, short of the quorum so far. */
  | { ok: true; status: 'pending'; hash: string; height: number; stake: bigint }
  /** Nothing new: a height at or below the tip, or signatures already held. */
  | { ok: true; status: 'known'; hash: string; height: number }
  /**
   * Refused. `penalize`: the sender passed on something no honest node relays (forged or unknown
   * signatures, another network, bad time); false for a beacon that is merely off our chain (an
   * honest validator that lags signs such beacons).
   */
  | { ok: false; code: ErrorCode; reason: string; penalize: boolean };

export interface BeaconBookStats {
  accepted: number;
  pending_beacons: number;
  known: number;
  rejected: number;
  off_chain: number;
  equivocations: number;
}

interface Pending {
  statement: BeaconStatement;
  hash: string;
  sigs: Map<string, string>;
  stake: bigint;
}

interface Accepted {
  certificate: SignedBeacon;
  hash: string;
}

export class BeaconBook implements HeightSource {
  readonly params: BeaconParams;
  private validatorSet: BeaconValidatorSet;
  private tipBeacon: Accepted | undefined;
  private readonly pending = new Map<string, Pending>();
  /** Per validator: height -> hashes it signed that are pending (for the cap and equivocations). */
  private readonly signedBy = new Map<string, Map<number, Set<string>>>();
  /** Hashes of accepted beacons, oldest first: `prev` values that are off the tip. */
  private readonly history = new Map<string, number>();
  private readonly counts = { accepted: 0, known: 0, rejected: 0, off_chain: 0, equivocations: 0 };

  constructor(params: BeaconParams, validators: BeaconValidatorSet, tip?: SignedBeacon) {
    this.params = params;
    this.validatorSet = validators;
    if (tip) {
      const v = this.receive(tip);
      if (!v.ok || v.status !== 'accepted')
        throw new DchatError('E_CONFIG', `stored beacon tip refused: ${describe(v)}`);
    }
  }

  get validators(): BeaconValidatorSet {
    return this.validatorSet;
  }

  /**
   * The validator set of a genesis the network moved to (a certified genesis change): heights from
   * now on need 2/3 of the new stake. The accepted tip stays (the chain goes on from it); beacons
   * still pending were weighed with the old stakes, so they are dropped: validators sign every block,
   * and the next one is weighed by the new set.
   */
  setValidators(validators: BeaconValidatorSet): void {
    this.validatorSet = validators;
    this.pending.clear();
    this.signedBy.clear();
  }

  /** HeightSource: the accepted height and its block time; null before the first beacon. */
  current(): { height: number; time_ms: number } | null {
    const t = this.tipBeacon?.certificate;
    return t ? { height: t.height, time_ms: t.time_ms } : null;
  }

  tip(): BeaconTip | null {
    return this.tipBeacon ? { height: this.tipBeacon.certificate.height, hash: this.tipBeacon.hash } : null;
  }

  /** The accepted tip with its quorum of signatures: what anti-entropy hands a late node. */
  certificate(): SignedBeacon | undefined {
    return this.tipBeacon?.certificate;
  }

  get stats(): BeaconBookStats {
    return { ...this.counts, pending_beacons: this.pending.size };
  }

  /**
   * One beacon from anywhere (a validator's own, a peer's, a certified tip). Checks the cheap
   * rules first, then each signature it does not hold yet; a single bad signature refuses the
   * whole message (an honest relay checks before it relays).
   */
  receive(b: SignedBeacon): BeaconVerdict {
    const st = statementOf(b);
    if (st.format !== BEACON_FORMAT) return this.reject('E_UNSUPPORTED', `beacon format ${st.format}`, true);
    if (st.network_id !== this.params.networkId)
      return this.reject(
        'E_WRONG_NETWORK',
        `beacon of network '${st.network_id}', this node is on '${this.params.networkId}'`,
        true,
      );
    if (st.time_ms !== timeOfHeight(this.params, st.height))
      return this.reject(
        'E_MALFORMED',
        `beacon time ${st.time_ms} is not genesis + ${st.height} blocks (${timeOfHeight(this.params, st.height)})`,
        true,
      );
    const hash = beaconHash(st);
    const tipHeight = this.tipBeacon?.certificate.height ?? 0;
    if (st.height <= tipHeight) {
      this.counts.known++;
      return { ok: true, status: 'known', hash, height: st.height };
    }
    const chain = this.chainProblem(st);
    if (chain) {
      this.counts.off_chain++;
      return this.reject('E_CHAIN_MISMATCH', chain, false);
    }
    const held = this.pending.get(hash);
    const fresh: [string, string][] = [];
    const seen = new Set<string>();
    for (const s of b.signatures) {
      if (seen.has(s.validator))
        return this.reject('E_MALFORMED', `beacon signed twice by ${short(s.validator)}`, true);
      seen.add(s.validator);
      if (!this.validators.get(s.validator))
        return this.reject(
          'E_UNTRUSTED_KEY',
          `beacon signed by unknown validator ${short(s.validator)}`,
          true,
        );
      if (held?.sigs.has(s.validator)) continue;
      if (!verifyBeaconSignature(s.validator, st, s.signature))
        return this.reject('E_SIGNATURE', `bad beacon signature of validator ${short(s.validator)}`, true);
      fresh.push([s.validator, s.signature]);
    }
    if (fresh.length === 0) {
      this.counts.known++;
      return { ok: true, status: 'known', hash, height: st.height };
    }
    const p = held ?? { statement: st, hash, sigs: new Map<string, string>(), stake: 0n };
    if (!held) this.pending.set(hash, p);
    for (const [id, sig] of fresh) {
      p.sigs.set(id, sig);
      p.stake += this.validators.get(id)?.stake ?? 0n;
      this.notePending(id, st.height, hash);
    }
    if (!this.pending.has(hash)) {
      // Its own signatures pushed it out of a validator's cap: it was that validator's lowest height.
      return { ok: true, status: 'known', hash, height: st.height };
    }
    if (this.validators.isQuorum(p.stake)) return this.accept(p);
    return { ok: true, status: 'pending', hash, height: st.height, stake: p.stake };
  }

  /** Why `st` cannot follow the accepted tip, or undefined if it can. */
  private chainProblem(st: BeaconStatement): string | undefined {
    const tip = this.tipBeacon;
    const tipHash = tip?.hash ?? this.params.genesisHash;
    const tipHeight = tip?.certificate.height ?? 0;
    if (st.prev === tipHash) return undefined;
    const at = st.prev === this.params.genesisHash ? 0 : this.history.get(st.prev);
    if (at !== undefined)
      return `beacon ${st.height} builds on height ${at}, not on the accepted tip ${tipHeight}`;
    if (st.height === tipHeight + 1)
      return `beacon ${st.height} does not follow the accepted beacon ${tipHeight} (prev ${st.prev.slice(0, 12)}…)`;
    return undefined;
  }

  private accept(p: Pending): BeaconVerdict {
    const signatures = [...p.sigs]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([validator, signature]) => ({ validator, signature }));
    const certificate: SignedBeacon = { ...p.statement, signatures };
    this.tipBeacon = { certificate, hash: p.hash };
    this.history.set(p.hash, p.statement.height);
    while (this.history.size > MAX_HISTORY) this.history.delete(this.history.keys().next().value as string);
    this.counts.accepted++;
    this.prune();
    return { ok: true, status: 'accepted', hash: p.hash, height: p.statement.height, certificate };
  }

  /** After the tip moved: drops pending beacons at or below it and those now off the chain. */
  private prune(): void {
    for (const p of [...this.pending.values()])
      if (p.statement.height <= (this.tipBeacon?.certificate.height ?? 0) || this.chainProblem(p.statement))
        this.dropPending(p);
  }

  private notePending(validator: string, height: number, hash: string): void {
    let byHeight = this.signedBy.get(validator);
    if (!byHeight) {
      byHeight = new Map();
      this.signedBy.set(validator, byHeight);
    }
    let hashes = byHeight.get(height);
    if (!hashes) {
      hashes = new Set();
      byHeight.set(height, hashes);
    }
    if (hashes.size > 0 && !hashes.has(hash)) this.counts.equivocations++;
    hashes.add(hash);
    let entries = 0;
    for (const s of byHeight.values()) entries += s.size;
    while (entries > MAX_PENDING_PER_VALIDATOR) {
      const lowest = Math.min(...byHeight.keys());
      const drop = byHeight.get(lowest) as Set<string>;
      for (const h of drop) {
        const p = this.pending.get(h);
        if (p) this.unsign(p, validator);
        entries--;
      }
      byHeight.delete(lowest);
    }
  }

  /** Takes `validator`'s signature off a pending beacon (the validator's cap); drops it when empty. */
  private unsign(p: Pending, validator: string): void {
    if (!p.sigs.delete(validator)) return;
    p.stake -= this.validators.get(validator)?.stake ?? 0n;
    if (p.sigs.size === 0) this.pending.delete(p.hash);
  }

  private dropPending(p: Pending): void {
    this.pending.delete(p.hash);
    for (const validator of p.sigs.keys()) {
      const byHeight = this.signedBy.get(validator);
      const hashes = byHeight?.get(p.statement.height);
      hashes?.delete(p.hash);
      if (hashes && hashes.size === 0) byHeight?.delete(p.statement.height);
      if (byHeight && byHeight.size === 0) this.signedBy.delete(validator);
    }
  }

  private reject(code: ErrorCode, reason: string, penalize: boolean): BeaconVerdict {
    this.counts.rejected++;
    return { ok: false, code, reason, penalize };
  }
}

function describe(v: BeaconVerdict): string {
  return v.ok ? v.status : `${v.code}: ${v.reason}`;
}
