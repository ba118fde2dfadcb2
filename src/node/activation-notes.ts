/**
 * Activation notes in the node (model/activation-notes.ts; rules in governance/notes.ts): the
 * `readiness` and `rollback` object kinds of the gossip core, checked, held and counted here.
 *  - Readiness: once the activation pump has the approved release pre-downloaded, verified and
 *    installed (or the node already runs it), the node signs a readiness note for that proposal
 *    and gossips it; `governance status` and `node status` show the validator stake ready.
 *  - Rolled back: when the supervisor switched back from a release that did not come up healthy
 *    (its journal, activation/state.json, says so), the node it restarted signs a note (version,
 *    height, reason) and gossips it; governance status lists who rolled back, with their stake.
 * The node signs with its validator key when it has one (only validators' stake counts), else
 * with its libp2p identity key. Without a pinned genesis there are no notes (they name the network).
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { PrivateKey } from '@libp2p/interface';
import type { Logger } from 'pino';
import { readJournal, versionPaths } from '../activation/versions.ts';
import type { ValidateObject } from '../gossip/core/index.ts';
import type { AcceptedObject, GossipService } from '../gossip/libp2p/adapter.ts';
import type { ApprovedPlan } from '../governance/certificate.ts';
import type { TrustedGenesis } from '../governance/genesis.ts';
import {
  buildReadiness,
  buildRollbackNote,
  checkNote,
  type RollbackEntry,
  readyStake,
  rollbackEntries,
} from '../governance/notes.ts';
import { objectId } from '../governance/signing.ts';
import type { GaugeSpec } from '../metrics/registry.ts';
import type { ActivationNoteKind, Readiness, RollbackNote } from '../model/activation-notes.ts';
import type { StatusResult } from '../model/control.ts';
import { compareVersions } from '../model/version.ts';
import type { HomePaths } from '../store/home.ts';
import type { NodeActivation } from './activation-node.ts';
import type { GovernanceService } from './governance-service.ts';
import type { NodeConfig } from './node-config.ts';

/** How often the node looks whether it became ready or was rolled back. */
const TICK_MS = 1000;
/** Rollback notes listed in `node status`. */
const STATUS_ROLLBACKS = 16;

export interface NotesSigner {
  privateKey: KeyObject;
  publicKeyHex: string;
}

export interface ActivationNotesInit {
  genesis: TrustedGenesis | undefined;
  signer: NotesSigner;
  paths: HomePaths;
  log: Logger;
  clock: () => number;
  /** Hops on notes this node signs. */
  ttl: number;
  /** The approved plans this node holds certificates for. */
  plans: () => readonly ApprovedPlan[];
  /** The network height (null: none known). */
  height: () => number | null;
  /** The activation pump's view: what runs here, and whether the plan's release is installed. */
  activation: () => { running_version: string; plan: { version: string } | null; ready: boolean } | undefined;
}

/** What `node status` shows of readiness and rollbacks. */
export interface NotesStatus {
  readiness: {
    signer: string;
    validator: boolean;
    /** The proposal this node advertised readiness for (null: none yet). */
    advertised: string | null;
    proposals: {
      proposal_id: string;
      version: string;
      activation_height: number;
      ready_stake: number;
      total_stake: number;
      ready_share: string;
      ready_validators: number;
    }[];
  };
  rollback_notes: RollbackEntry[];
}

export class ActivationNotes {
  private readonly init: ActivationNotesInit;
  private gossip: GossipService | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Held notes by kind and signer (one per signer: the gossip core's slot). */
  private readonly held: Record<ActivationNoteKind, Map<string, Readiness | RollbackNote>> = {
    readiness: new Map(),
    rollback: new Map(),
  };
  private advertised: string | null = null;
  private announcedRollback: string | null = null;
  /** Versions the supervisor rolled back here: never advertised as ready again. */
  private rolledBack = new Set<string>();
  private busy = false;

  constructor(init: ActivationNotesInit) {
    this.init = init;
  }

  /** The signer: the validator key when the node has one, else its libp2p identity (Ed25519). */
  static signerOf(validatorKey: NotesSigner | undefined, identity: PrivateKey): NotesSigner {
    if (validatorKey) return validatorKey;
    const raw = identity.raw; // Ed25519: 32-byte seed then 32-byte public key.
    const seed = Buffer.from(raw.subarray(0, 32)).toString('base64url');
    const pub = Buffer.from(identity.publicKey.raw);
    const privateKey = createPrivateKey({
      key: { kty: 'OKP', crv: 'Ed25519', d: seed, x: pub.toString('base64url') },
      format: 'jwk',
    });
    return { privateKey, publicKeyHex: pub.toString('hex') };
  }

  /** The check and the keeping, for GovernanceService.gossipInit's `others`. */
  gossipKinds(): Record<string, { validate: ValidateObject; accepted: (o: AcceptedObject) => void }> {
    const g = this.init.genesis;
    if (!g) return {};
    const nodeSigners = (kind: ActivationNoteKind) => {
      let n = 0;
      for (const s of this.held[kind].keys()) if (!g.validatorIndex.has(s)) n++;
      return n;
    };
    const entry = (kind: ActivationNoteKind) => ({
      validate: ((_k, id, object) =>
        checkNote(g, kind, id, object as Readiness | RollbackNote, {
          now_ms: this.init.clock(),
          holds: (k, signer) => this.held[k].has(signer),
          nodeSigners,
        })) as ValidateObject,
      accepted: (o: AcceptedObject) => {
        const note = o.object as Readiness | RollbackNote;
        this.held[kind].set(note.signer, note);
        if (o.via !== 'local' && kind === 'rollback') {
          const r = note as RollbackNote;
          this.init.log.warn(
            {
              version: r.version,
              to: r.to,
              height: r.height,
              reason: r.reason,
              signer: r.signer.slice(0, 16),
            },
            'a node rolled back an upgrade',
          );
        }
      },
    });
    return { readiness: entry('readiness'), rollback: entry('rollback') };
  }

  attach(gossip: GossipService): void {
    if (!this.init.genesis) return;
    this.gossip = gossip;
    this.timer = setInterval(() => void this.tick(), TICK_MS);
    this.timer.unref();
    void this.tick();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** For GovernanceService.useNotes: every note held. */
  notes(): { readiness: Readiness[]; rollbacks: RollbackNote[] } {
    return {
      readiness: [...this.held.readiness.values()] as Readiness[],
      rollbacks: [...this.held.rollback.values()] as RollbackNote[],
    };
  }

  status(): NotesStatus | undefined {
    const g = this.init.genesis;
    if (!g) return undefined;
    const readiness = this.notes().readiness;
    const proposals = [...this.init.plans()]
      .sort((a, b) => compareVersions(b.version, a.version))
      .slice(0, 8)
      .map((p) => {
        const r = readyStake(
          g,
          p,
          p.proposal_id,
          readiness.filter((x) => x.proposal_id === p.proposal_id),
          this.notes().rollbacks,
        );
        return {
          proposal_id: p.proposal_id,
          version: p.version,
          activation_height: p.activation_height,
          ready_stake: r.ready_stake,
          total_stake: r.total_stake,
          ready_share: r.ready_share,
          ready_validators: r.validators.length,
        };
      });
    return {
      readiness: {
        signer: this.init.signer.publicKeyHex,
        validator: g.validatorIndex.has(this.init.signer.publicKeyHex),
        advertised: this.advertised,
        proposals,
      },
      rollback_notes: rollbackEntries(g, this.notes().rollbacks, STATUS_ROLLBACKS),
    };
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      await this.announceRollback();
      this.advertiseReadiness();
    } catch (err) {
      this.init.log.info({ error: (err as Error).message }, 'activation notes: step failed; retrying');
    } finally {
      this.busy = false;
    }
  }

  /** The highest approved release installed here (or running): sign and gossip readiness once. */
  private advertiseReadiness(): void {
    const g = this.init.genesis;
    const gossip = this.gossip;
    const a = this.init.activation();
    if (!g || !gossip || !a) return;
    const plan = [...this.init.plans()]
      .sort((x, y) => compareVersions(y.version, x.version))
      .find(
        (p) =>
          !this.rolledBack.has(p.version) &&
          (compareVersions(p.version, a.running_version) === 0 || (a.ready && a.plan?.version === p.version)),
      );
    if (!plan || this.advertised === plan.proposal_id) return;
    const note = buildReadiness(this.init.signer.privateKey, {
      network_id: g.networkId,
      proposal_id: plan.proposal_id,
      version: plan.version,
      release_sha256: plan.release_sha256,
      activation_height: plan.activation_height,
      time_ms: this.init.clock(),
      height: this.init.height(),
    });
    const r = gossip.offerObject('readiness', objectId(note), note, this.init.ttl);
    if (!r.ok) {
      this.init.log.info({ code: r.code, reason: r.reason }, 'readiness note not taken');
      return;
    }
    this.advertised = plan.proposal_id;
    this.init.log.info(
      { version: plan.version, activation_height: plan.activation_height, proposal: plan.proposal_id },
      'activation: readiness advertised',
    );
  }

  /** The supervisor's latest rollback (journal): signed once, dated by the journal (same id on restarts). */
  private async announceRollback(): Promise<void> {
    const g = this.init.genesis;
    const gossip = this.gossip;
    if (!g || !gossip) return;
    const vp = versionPaths(this.init.paths);
    const j = await readJournal(vp);
    this.rolledBack = new Set(j.rolled_back.map((r) => r.version));
    const last = j.rolled_back[j.rolled_back.length - 1];
    if (!last) return;
    const key = `${last.version}@${last.at}`;
    if (this.announcedRollback === key) return;
    const at = Date.parse(last.at);
    const h = [...j.history]
      .reverse()
      .find((e) => e.kind === 'rollback' && e.from === last.version && e.to === last.to);
    const note = buildRollbackNote(this.init.signer.privateKey, {
      network_id: g.networkId,
      version: last.version,
      to: last.to,
      proposal_id: this.init.plans().find((p) => p.version === last.version)?.proposal_id ?? null,
      height: h?.height ?? null,
      reason: last.reason.slice(0, 200),
      time_ms: Number.isFinite(at) && at >= 0 ? at : this.init.clock(),
    });
    const id = objectId(note);
    const r = gossip.offerObject('rollback', id, note, this.init.ttl);
    // Already held: a peer gave our own note back after a restart; it is out there.
    if (!r.ok && !/already held|newer/.test(r.reason ?? '')) {
      this.init.log.info({ code: r.code, reason: r.reason }, 'rollback note not taken');
      return;
    }
    this.announcedRollback = key;
    this.init.log.warn(
      { version: last.version, to: last.to, height: note.height, reason: last.reason },
      'activation: rollback told to the network',
    );
  }
}

/** The daemon's hook (daemon.ts stays small): notes over the node's governance and activation. */
export function createActivationNotes(
  governance: GovernanceService,
  node: {
    config: NodeConfig;
    paths: HomePaths;
    log: Logger;
    identity: PrivateKey;
    clock: () => number;
    activation: () => NodeActivation | undefined;
  },
): ActivationNotes {
  const validatorKey = node.config.role === 'validator' ? node.config.height?.validatorKey : undefined;
  const notes = new ActivationNotes({
    genesis: governance.genesis,
    signer: ActivationNotes.signerOf(validatorKey, node.identity),
    paths: node.paths,
    log: node.log,
    clock: node.clock,
    ttl: node.config.announceTtl,
    plans: () => governance.approvedPlans(),
    height: () => governance.now().height,
    activation: () => node.activation()?.status(),
  });
  governance.useNotes(() => notes.notes());
  return notes;
}

/** The readiness and rollback metrics (`--metrics`), read from `node status` at each scrape. */
export function notesGauges(status: () => StatusResult): GaugeSpec[] {
  const notes = () => status() as Partial<NotesStatus>;
  return [
    {
      name: 'dchat_governance_ready_stake_ratio',
      help: 'Share of validator stake whose nodes advertised readiness (signed) for an approved upgrade, by version',
      labelNames: ['version'],
      read: () =>
        (notes().readiness?.proposals ?? []).map((p) => ({
          labels: { version: p.version },
          value: p.total_stake > 0 ? p.ready_stake / p.total_stake : 0,
        })),
    },
    {
      name: 'dchat_governance_ready_stake',
      help: 'Validator stake whose nodes advertised readiness (signed) for an approved upgrade, by version',
      labelNames: ['version'],
      read: () =>
        (notes().readiness?.proposals ?? []).map((p) => ({
          labels: { version: p.version },
          value: p.ready_stake,
        })),
    },
    {
      name: 'dchat_activation_rollback_notes',
      help: 'Signed "rolled back" notes held: nodes whose supervisor switched back from an unhealthy release',
      read: () => [{ value: notes().rollback_notes?.length ?? 0 }],
    },
  ];
}
