/**
 * Height beacons in a running node (the pump of governance/beacon-book.ts): beacons arrive as the
 * gossip object kind `beacon` and are judged by `validate` (the core's check for that kind); a
 * validator (node role validator with its validator key) signs the beacon of each new block
 * interval on top of its accepted tip and publishes it. When a height is accepted, the
 * certificate (the beacon and the quorum of signatures) is held quietly by the gossip core, so
 * anti-entropy hands it to late nodes, and saved to $DCHAT_HOME/node/beacon-tip.json, so a
 * restarted node knows its height at once. Timers and the clock live here, never in the book.
 */
import type { KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ValidationResult } from '../gossip/core/actions.ts';
import {
  type BeaconParams,
  type BeaconValidatorSet,
  beaconToSign,
  heightAt,
  signBeacon,
  timeOfHeight,
} from '../governance/beacon.ts';
import { BeaconBook, type BeaconBookStats, type BeaconVerdict } from '../governance/beacon-book.ts';
import { checkBeaconObject } from '../governance/beacon-check.ts';
import type { HeightSource } from '../governance/height-source.ts';
import { objectId } from '../governance/signing.ts';
import { type SignedBeacon, SignedBeaconSchema } from '../model/beacon.ts';
import { writeFileAtomic } from '../store/atomic.ts';

/** Where beacon objects go out: the gossip service (or a core in tests). `ttl` undefined: hold quietly. */
export interface BeaconOutlet {
  offerObject(kind: 'beacon', id: string, object: SignedBeacon, ttl?: number): ValidationResult;
}

export interface BeaconServiceInit {
  params: BeaconParams;
  validators: BeaconValidatorSet;
  /** This node's validator key, when it is a validator of the genesis: it then signs beacons. */
  signer?: { privateKey: KeyObject; publicKeyHex: string };
  /** Where the accepted tip is kept across restarts (a directory); none: kept in memory only. */
  dir?: string;
  /** Hops on the beacons this node signs. */
  ttl?: number;
  now?: () => number;
  log?: (level: 'debug' | 'info' | 'warn', msg: string, data?: Record<string, unknown>) => void;
}

export interface BeaconStatus {
  height: number | null;
  time_ms: number | null;
  hash: string | null;
  /** Signatures on the accepted beacon, and the stake they carry of the total. */
  signatures: number;
  validator: boolean;
  signed: number;
  last_signed_height: number;
  stats: BeaconBookStats;
}

const TIP_FILE = 'beacon-tip.json';
const DEFAULT_TTL = 8;

export class BeaconService implements HeightSource {
  readonly book: BeaconBook;
  private init: BeaconServiceInit;
  private readonly now: () => number;
  private outlet: BeaconOutlet | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private lastSigned = 0;
  private signed = 0;
  private saving: Promise<void> = Promise.resolve();
  private dirty = false;

  private constructor(init: BeaconServiceInit, tip: SignedBeacon | undefined) {
    this.init = init;
    this.now = init.now ?? Date.now;
    let book: BeaconBook;
    try {
      book = new BeaconBook(init.params, init.validators, tip);
    } catch (err) {
      init.log?.('warn', 'saved beacon tip refused; starting from the genesis', {
        error: (err as Error).message,
      });
      book = new BeaconBook(init.params, init.validators);
    }
    this.book = book;
  }

  /** Loads the saved tip (if any and still valid against this genesis). */
  static async create(init: BeaconServiceInit): Promise<BeaconService> {
    let tip: SignedBeacon | undefined;
    if (init.dir) {
      try {
        const raw = await readFile(join(init.dir, TIP_FILE), 'utf8');
        if (raw.length <= 64 * 1024) {
          const r = SignedBeaconSchema.safeParse(JSON.parse(raw));
          if (r.success) tip = r.data;
        }
      } catch {
        // No saved tip (or unreadable): start from the genesis; peers hand the tip over.
      }
    }
    return new BeaconService(init, tip);
  }

  /** A certified genesis change named other validators: see BeaconBook.setValidators. */
  setValidators(validators: BeaconValidatorSet): void {
    this.init = { ...this.init, validators };
    this.book.setValidators(validators);
    if (!this.running) return;
    // A validator added by the change starts signing; one removed stops.
    if (this.isValidator && !this.timer) this.arm();
    else if (!this.isValidator && this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** HeightSource. */
  current(): { height: number; time_ms: number } | null {
    return this.book.current();
  }

  get isValidator(): boolean {
    return (
      this.init.signer !== undefined && this.init.validators.get(this.init.signer.publicKeyHex) !== undefined
    );
  }

  /** The gossip core's check for kind `beacon`. */
  validate(id: string, object: SignedBeacon): ValidationResult {
    return checkBeaconObject(this.book, id, object);
  }

  /** The gossip core accepted a beacon object whose check returned `proof`. */
  accepted(object: SignedBeacon, proof: unknown): void {
    const v = proof as BeaconVerdict | undefined;
    if (!v?.ok || v.status !== 'accepted') return;
    this.tipMoved(v.certificate, object.signatures.length === v.certificate.signatures.length);
  }

  /** Connects the gossip outlet: the saved tip is held for peers at once. */
  attach(outlet: BeaconOutlet): void {
    this.outlet = outlet;
    const cert = this.book.certificate();
    if (cert) outlet.offerObject('beacon', objectId(cert), cert);
  }

  /** A validator starts signing: a timer at every block boundary. */
  start(): void {
    this.running = true;
    if (this.isValidator) this.arm();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.saving;
  }

  /** One producer step at `now` (the timer calls it at each block boundary): sign and publish. */
  tick(now: number = this.now()): void {
    const signer = this.init.signer;
    if (!signer || !this.outlet || !this.isValidator) return;
    const st = beaconToSign(this.init.params, this.book.tip(), this.lastSigned, now);
    if (!st) return;
    this.lastSigned = st.height;
    const b: SignedBeacon = {
      ...st,
      signatures: [{ validator: signer.publicKeyHex, signature: signBeacon(signer.privateKey, st) }],
    };
    const id = objectId(b);
    const r = this.outlet.offerObject('beacon', id, b, this.init.ttl ?? DEFAULT_TTL);
    if (!r.ok) {
      this.init.log?.('debug', 'own beacon not published', {
        height: st.height,
        code: r.code,
        reason: r.reason,
      });
      return;
    }
    this.signed++;
    const v = r.proof as BeaconVerdict | undefined;
    if (v?.ok && v.status === 'accepted')
      this.tipMoved(v.certificate, b.signatures.length === v.certificate.signatures.length);
  }

  status(): BeaconStatus {
    const cert = this.book.certificate();
    const tip = this.book.tip();
    return {
      height: cert?.height ?? null,
      time_ms: cert?.time_ms ?? null,
      hash: tip?.hash ?? null,
      signatures: cert?.signatures.length ?? 0,
      validator: this.isValidator,
      signed: this.signed,
      last_signed_height: this.lastSigned,
      stats: this.book.stats,
    };
  }

  private arm(): void {
    if (!this.running) return;
    const now = this.now();
    const next = timeOfHeight(this.init.params, heightAt(this.init.params, now) + 1);
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        if (!this.running) return;
        this.tick();
        this.arm();
      },
      Math.max(0, Math.min(next - now, 60_000)),
    );
    this.timer.unref();
  }

  /** The tip moved: hold the certificate for late nodes (unless it is what arrived), save it. */
  private tipMoved(cert: SignedBeacon, isTheObject: boolean): void {
    this.init.log?.('debug', 'height accepted', { height: cert.height, signatures: cert.signatures.length });
    if (!isTheObject && this.outlet) {
      const outlet = this.outlet;
      // After the core has finished with the object in hand (never re-enter it from its own check).
      queueMicrotask(() => outlet.offerObject('beacon', objectId(cert), cert));
    }
    this.save();
  }

  private save(): void {
    const dir = this.init.dir;
    if (!dir) return;
    if (this.dirty) return;
    this.dirty = true;
    this.saving = this.saving.then(async () => {
      this.dirty = false;
      const cert = this.book.certificate();
      if (!cert) return;
      try {
        await writeFileAtomic(join(dir, TIP_FILE), `${JSON.stringify(cert)}\n`, { mode: 0o600 });
      } catch (err) {
        this.init.log?.('warn', 'could not save the beacon tip', { error: (err as Error).message });
      }
    });
  }
}
