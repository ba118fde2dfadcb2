/**
 * Governance in the node: the pinned genesis, every governance object held (in memory and under
 * governance/ in the home), their check as the gossip core's ValidateObject, the control methods
 * (`governance_context`, `governance_submit`, `governance_status`), the genesis moving on by
 * certified changes (genesis-chain.ts), and, in a validator node, certification
 * (governance-certifier.ts: the node attests the tally it holds once voting has ended, as Cosmos
 * validators commit it without anyone's command, and builds and gossips the certificate once
 * enough stake attested the same tally). A certificate is a gossiped object: it reaches nodes that
 * join later by anti-entropy like any other. Every rule is in src/governance/; this is wiring.
 *
 * Without a pinned genesis the node takes no governance objects and the methods answer
 * E_NOT_INITIALIZED.
 */
import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import { DchatError } from '../errors.ts';
import type { ValidateObject } from '../gossip/core/index.ts';
import type { AcceptedObject, GossipService } from '../gossip/libp2p/adapter.ts';
import type { HeightSource } from '../governance/height-source.ts';
import {
  type ChainPoint,
  makeObjectCheck,
  objectId,
  type SignedTargets,
  type TrustedGenesis,
  verifyCertificate,
} from '../governance/index.ts';
import { rollbackEntries } from '../governance/notes.ts';
import type { GenesisStepProof } from '../governance/object-check.ts';
import { signedTargetsOf } from '../governance/release-digest.ts';
import { type CertifiedView, type HeldCertificate, proposalStatus } from '../governance/status.ts';
import type { Readiness, RollbackNote } from '../model/activation-notes.ts';
import type { ControlResult } from '../model/control.ts';
import type { AnyProposal, Approval, Certificate, GovernanceKind, Vote } from '../model/governance.ts';
import { MAX_STATUS_PROPOSALS, MAX_STATUS_ROLLBACKS } from '../model/governance-control.ts';
import type { GovernanceStore } from '../store/governance-store.ts';
import { parseMetadata } from '../trust/metadata.ts';
import { listPackages } from '../trust/package-check.ts';
import { GenesisChain } from './genesis-chain.ts';
import { Certifier } from './governance-certifier.ts';

/** How often a validator node looks for proposals to certify. */
const CERTIFY_INTERVAL_MS = 1000;

export interface GovernanceServiceInit {
  store: GovernanceStore;
  log: Logger;
  /** Validators build certificates; other roles only check and relay them. */
  certify: boolean;
  /** The validator key of a validator node: it attests tallies (see the header). */
  signer?: { privateKey: KeyObject; publicKeyHex: string } | undefined;
  heightSource?: HeightSource | undefined;
  clock: () => number;
  /** Hops on objects this node originates. */
  ttl: number;
  /** Told when a certified genesis change moved the node on (the height beacons follow it). */
  onGenesis?: (genesis: TrustedGenesis) => void;
}

export class GovernanceService {
  private readonly chain: GenesisChain;
  private readonly init: GovernanceServiceInit;
  /** The object check of the pinned genesis (rebuilt when a certified change moves it on). */
  private check: ReturnType<typeof makeObjectCheck> | undefined;
  /** Genesis-change certificates held, by proposal id (status; relayed for nodes still behind). */
  private readonly genesisSteps = new Map<string, CertifiedView>();
  private gossip: GossipService | undefined;
  private readonly proposals = new Map<string, AnyProposal>();
  private readonly votes = new Map<string, Vote>();
  private readonly approvals = new Map<string, Approval>();
  /** Certificates by proposal id (one per proposal: the core keeps the winning one). */
  private readonly certificates = new Map<string, HeldCertificate>();
  /** Validators: attests tallies and builds certificates (governance-certifier.ts). */
  private readonly certifier: Certifier;
  private timer: NodeJS.Timeout | undefined;
  private writes: Promise<void> = Promise.resolve();
  private stored: { kind: GovernanceKind; id: string; object: unknown }[] = [];
  /** Activation notes held (node/activation-notes.ts), for status. */
  private notes: () => { readiness: readonly Readiness[]; rollbacks: readonly RollbackNote[] } = () => ({
    readiness: [],
    rollbacks: [],
  });

  private constructor(init: GovernanceServiceInit, chain: GenesisChain) {
    this.init = init;
    this.chain = chain;
    this.certifier = new Certifier(
      {
        genesis: () => this.genesis,
        gossip: () => this.gossip,
        now: () => this.now(),
        proposals: this.proposals,
        votes: this.votes,
        approvals: this.approvals,
        decided: (pid) => this.certificates.has(pid) || this.genesisSteps.has(pid),
      },
      init,
    );
  }

  /** The genesis pinned now (it moves on by certified governance decisions). */
  get genesis(): TrustedGenesis | undefined {
    return this.chain.current;
  }

  /** Reads the pinned genesis (none: governance off) and the stored objects. */
  static async load(init: GovernanceServiceInit): Promise<GovernanceService> {
    const chain = await GenesisChain.load(init.store, init.log);
    const g = chain.current;
    const svc = new GovernanceService(init, chain);
    if (g) {
      const { objects, skipped } = await init.store.readObjects();
      if (skipped.length > 0) init.log.warn({ skipped }, 'damaged governance files skipped');
      svc.stored = objects;
      init.log.info({ network: g.networkId, objects: objects.length }, 'governance genesis pinned');
    }
    return svc;
  }

  /**
   * What the gossip adapter needs: the object check and the accepted-object hook. Other signed
   * kinds (height beacons) are handed to `others`, by kind; a kind nobody checks is refused.
   */
  gossipInit(
    others: Partial<
      Record<string, { validate: ValidateObject; accepted?: (o: AcceptedObject) => void }>
    > = {},
  ): { validateObject?: ValidateObject; onObject?: (o: AcceptedObject) => void } {
    const g = this.genesis;
    if (!g && Object.keys(others).length === 0) return {};
    this.check = g ? this.makeCheck(g) : undefined;
    return {
      validateObject: (kind, id, object) => {
        const other = others[kind];
        if (other) return other.validate(kind, id, object);
        if (this.check && isGovernanceKind(kind)) return this.check(kind, id, object);
        return { ok: false, code: 'E_UNSUPPORTED', reason: `this node takes no ${kind} objects` };
      },
      onObject: (o) => {
        if (isGovernanceKind(o.kind)) this.onObject(o);
        else others[o.kind]?.accepted?.(o);
      },
    };
  }

  /** The object check of `g`; `history`: spare objects of past geneses (peers' copies). */
  private makeCheck(g: TrustedGenesis, history = true): ReturnType<typeof makeObjectCheck> {
    return makeObjectCheck(g, {
      proposal: (id) => this.proposals.get(id) ?? this.certificates.get(id)?.certificate.proposal,
      now: () => this.now(),
      targets: () => this.signedTargets(),
      ...(history
        ? {
            pastGenesis: (hash: string) => this.chain.pastGenesis(hash),
            pastMember: (key: string) => this.chain.pastMember(key),
          }
        : {}),
    });
  }

  /** Gossip is up: hold every stored object (proposals first: votes are checked against them). */
  attach(gossip: GossipService): void {
    this.gossip = gossip;
    if (!this.genesis) return;
    const order: GovernanceKind[] = ['proposal', 'certificate', 'vote', 'approval'];
    for (const kind of order)
      for (const s of this.stored.filter((o) => o.kind === kind)) {
        const r = gossip.offerObject(kind, s.id, s.object as AnyProposal);
        if (!r.ok)
          this.init.log.info(
            { kind, id: s.id, code: r.code, reason: r.reason },
            'stored governance object not taken',
          );
      }
    this.stored = [];
    if (this.init.certify) {
      this.timer = setInterval(() => this.certifier.run(), CERTIFY_INTERVAL_MS);
      this.timer.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.writes;
  }

  /** The network's current point: the height source's, or this node's clock without a height. */
  now(): ChainPoint {
    const h = this.init.heightSource?.current();
    return h ? { height: h.height, time_ms: h.time_ms } : { height: null, time_ms: this.init.clock() };
  }

  private requireGenesis(): TrustedGenesis {
    if (!this.genesis)
      throw new DchatError(
        'E_NOT_INITIALIZED',
        'no network genesis is pinned on this node; run `dchat governance init --genesis FILE` and restart it',
      );
    return this.genesis;
  }

  /** Where status reads the readiness and rollback notes held (node/activation-notes.ts). */
  useNotes(notes: () => { readiness: readonly Readiness[]; rollbacks: readonly RollbackNote[] }): void {
    this.notes = notes;
  }

  // ---- control methods ------------------------------------------------------------------------

  context(version: string | undefined): ControlResult<'governance_context'> {
    const g = this.requireGenesis();
    let release: ControlResult<'governance_context'>['release'] = null;
    if (version !== undefined) {
      const t = this.signedTargets();
      const r = t?.releases.find((x) => x.version === version);
      if (t && r) release = { targets_hash: t.targets_hash, release_sha256: r.sha256 };
    }
    return { network_id: g.networkId, genesis_hash: g.hash, params: g.body.params, now: this.now(), release };
  }

  submit(
    kind: 'proposal' | 'vote' | 'approval',
    object: AnyProposal | Vote | Approval,
  ): ControlResult<'governance_submit'> {
    const g = this.requireGenesis();
    const gossip = this.gossip;
    if (!gossip) throw new DchatError('E_BUSY', 'the node is still starting');
    const id = objectId(object);
    // Our own user's object is judged by the pinned genesis alone: a removed holder's vote is
    // E_UNTRUSTED_KEY here, not the lenient refusal that spares peers still holding old objects.
    const own = this.makeCheck(g, false)(kind, id, object);
    if (!own.ok) throw new DchatError(own.code, `${kind} refused: ${own.reason}`);
    const r = gossip.offerObject(kind, id, object, this.init.ttl);
    if (!r.ok) throw new DchatError(r.code, `${kind} refused: ${r.reason ?? r.code}`);
    return { kind, id };
  }

  status(proposal: string | undefined): ControlResult<'governance_status'> {
    const g = this.requireGenesis();
    const now = this.now();
    const all = new Map<string, AnyProposal>(this.proposals);
    for (const [pid, c] of this.certificates) all.set(pid, c.certificate.proposal);
    for (const [pid, c] of this.genesisSteps) all.set(pid, c.certificate.proposal);
    if (proposal !== undefined && !all.has(proposal))
      throw new DchatError('E_NOT_FOUND', `no proposal ${proposal} is known to this node`);
    const ids = proposal !== undefined ? [proposal] : [...all.keys()];
    const votes = [...this.votes.values()];
    const approvals = [...this.approvals.values()];
    const notes = this.notes();
    const proposals = ids
      .map((id) => {
        const p = all.get(id) as AnyProposal;
        return proposalStatus(
          g,
          p,
          id,
          votes.filter((v) => v.proposal_id === id),
          approvals.filter((a) => a.proposal_id === id),
          this.certificates.get(id) ?? this.genesisSteps.get(id),
          now,
          notes.readiness.filter((r) => r.proposal_id === id),
          notes.rollbacks,
        );
      })
      .sort((a, b) => b.submit_time_ms - a.submit_time_ms)
      .slice(0, MAX_STATUS_PROPOSALS);
    const rollbacks = rollbackEntries(g, notes.rollbacks, MAX_STATUS_ROLLBACKS);
    return {
      network_id: g.networkId,
      genesis_hash: g.hash,
      now,
      block_interval_ms: g.body.params.block_interval_ms,
      proposals,
      rollbacks,
    };
  }

  /** Approved plans this node holds certificates for (for the activation supervisor). */
  approvedPlans(): HeldCertificate['plan'][] {
    return [...this.certificates.values()].map((c) => c.plan);
  }

  // ---- objects --------------------------------------------------------------------------------

  private onObject(o: AcceptedObject): void {
    const kind = o.kind as GovernanceKind;
    if (o.replaced !== undefined) this.forget(kind, o.replaced);
    switch (kind) {
      case 'proposal':
        this.proposals.set(o.id, o.object as AnyProposal);
        break;
      case 'vote': {
        const v = o.object as Vote;
        this.votes.set(o.id, v);
        this.certifier.changed(v.proposal_id);
        break;
      }
      case 'approval': {
        const a = o.object as Approval;
        this.approvals.set(o.id, a);
        this.certifier.changed(a.proposal_id);
        break;
      }
      case 'certificate': {
        const cert = o.object as Certificate;
        const step = (o.proof as Partial<GenesisStepProof> | undefined)?.genesisStep;
        if (step) {
          this.genesisStep(o.id, cert, o.proof as GenesisStepProof);
          break;
        }
        const plan = (o.proof as HeldCertificate['plan'] | undefined) ?? this.verified(cert);
        if (!plan) return;
        this.certificates.set(plan.proposal_id, { id: o.id, certificate: cert, plan });
        if (o.via !== 'local')
          this.init.log.info(
            {
              version: plan.version,
              activation_height: plan.activation_height,
              certificate: o.id,
              via: o.via,
            },
            'upgrade approved: certificate held',
          );
        break;
      }
    }
    // Objects read from the store at start come back through here: not written again.
    if (!(o.via === 'local' && this.stored.some((s) => s.kind === kind && s.id === o.id)))
      this.persist(kind, o.id, o.object, o.replaced);
  }

  /** A genesis-change certificate accepted: held for status, and the step taken if it is the next. */
  private genesisStep(id: string, cert: Certificate, proof: GenesisStepProof): void {
    const c = proof.genesisStep;
    this.genesisSteps.set(c.proposal_id, {
      id,
      certificate: cert,
      plan: { tally: c.tally, approving_stake: c.approving_stake },
    });
    if (!proof.current) return;
    // The chain pins the new genesis at once (its check takes over now); the files follow in order.
    const moved = this.chain.move(c);
    if (this.chain.current?.hash === c.next.hash) {
      this.check = this.makeCheck(c.next);
      this.init.onGenesis?.(c.next);
    }
    this.writes = this.writes.then(async () => {
      await moved;
    });
  }

  private verified(cert: Certificate): HeldCertificate['plan'] | undefined {
    const g = this.genesis;
    if (!g) return undefined;
    const v = verifyCertificate(g, cert);
    return v.ok ? v.plan : undefined;
  }

  private forget(kind: GovernanceKind, id: string): void {
    if (kind === 'vote') this.votes.delete(id);
    else if (kind === 'approval') this.approvals.delete(id);
    else if (kind === 'proposal') this.proposals.delete(id);
    else for (const [pid, c] of this.certificates) if (c.id === id) this.certificates.delete(pid);
  }

  private persist(kind: GovernanceKind, id: string, object: unknown, replaced: string | undefined): void {
    const store = this.init.store;
    this.writes = this.writes
      .then(async () => {
        await store.writeObject(kind, id, object);
        if (replaced !== undefined) await store.removeObject(kind, replaced);
      })
      .catch((err: Error) =>
        this.init.log.warn({ kind, id, error: err.message }, 'could not save a governance object'),
      );
  }

  // ---- trusted release hashes -------------------------------------------------------------------

  private targetsCache: { bytes: Uint8Array; value: SignedTargets } | undefined;

  /** The node's trusted targets as governance names releases (cached per targets document). */
  private signedTargets(): SignedTargets | undefined {
    const bytes = this.gossip?.trustedDocs().targets;
    if (!bytes) return undefined;
    if (this.targetsCache?.bytes === bytes) return this.targetsCache.value;
    try {
      const md = parseMetadata('targets', bytes);
      const value = signedTargetsOf(
        bytes,
        listPackages(md).map((t) => ({ path: t.path, sha256: t.sha256, version: t.custom.version })),
      );
      this.targetsCache = { bytes, value };
      return value;
    } catch {
      return undefined;
    }
  }
}

function isGovernanceKind(kind: string): kind is GovernanceKind {
  return kind === 'proposal' || kind === 'vote' || kind === 'approval' || kind === 'certificate';
}

/** The governance control methods, for `protocolHandlers` (the service exists once the node started). */
export function governanceHandlers(get: () => GovernanceService | undefined) {
  const svc = () => {
    const s = get();
    if (!s) throw new DchatError('E_BUSY', 'the node is still starting');
    return s;
  };
  return {
    governance_context: async (p: { version?: string | undefined }) => svc().context(p.version),
    governance_submit: async (
      p:
        | { kind: 'proposal'; object: AnyProposal }
        | { kind: 'vote'; object: Vote }
        | { kind: 'approval'; object: Approval },
    ) => svc().submit(p.kind, p.object),
    governance_status: async (p: { proposal?: string | undefined }) => svc().status(p.proposal),
  };
}
