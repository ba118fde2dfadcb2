/**
 * Certification in a validator node (node/governance-service.ts holds the objects): once a
 * proposal's voting has ended and a short settling delay passed, the node attests the tally it
 * holds with its validator key (a soft fork always, a hard fork or a genesis change only once its
 * operator approved it), signing again if later votes change what it holds; once the vote passed
 * and validators holding enough stake attested the same tally, it builds the certificate and
 * gossips it (and announces the approved release). Every rule is in src/governance/; this is
 * wiring, run every CERTIFY_INTERVAL_MS by the service.
 */
import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import type { GossipService } from '../gossip/libp2p/adapter.ts';
import { approvalTarget } from '../governance/approval.ts';
import { buildApproval } from '../governance/builders.ts';
import { buildGenesisCertificate } from '../governance/genesis-change.ts';
import {
  buildCertificate,
  type ChainPoint,
  objectId,
  type TrustedGenesis,
  votingEnded,
} from '../governance/index.ts';
import { heldCommitment, sameCommitment } from '../governance/tally-commitment.ts';
import { type AnyProposal, type Approval, isGenesisProposal, type Vote } from '../model/governance.ts';

/**
 * How long after the end of voting a validator waits before it attests the tally: votes dated
 * within the period may still be on their way. Two block intervals, within [1 s, 30 s].
 */
function settleMs(g: TrustedGenesis): number {
  return Math.min(30_000, Math.max(1000, 2 * g.body.params.block_interval_ms));
}

/** What the certifier reads of the service's holdings. */
export interface CertifierView {
  genesis(): TrustedGenesis | undefined;
  gossip(): GossipService | undefined;
  now(): ChainPoint;
  proposals: ReadonlyMap<string, AnyProposal>;
  votes: ReadonlyMap<string, Vote>;
  approvals: ReadonlyMap<string, Approval>;
  /** A certificate (or genesis step) is held for this proposal: nothing left to do. */
  decided(proposalId: string): boolean;
}

export interface CertifierInit {
  log: Logger;
  /** The validator key: without it the node only builds certificates from others' attestations. */
  signer?: { privateKey: KeyObject; publicKeyHex: string } | undefined;
  clock: () => number;
  /** Hops on objects this node originates. */
  ttl: number;
}

export class Certifier {
  private readonly view: CertifierView;
  private readonly init: CertifierInit;
  /** Proposals whose votes or approvals changed since the last certification attempt. */
  private readonly dirty = new Set<string>();
  /** Proposals this node tried to certify at least once. */
  private readonly tried = new Set<string>();
  /** When this node first saw each proposal's voting ended (its clock): the settling delay. */
  private readonly endedAt = new Map<string, number>();

  constructor(view: CertifierView, init: CertifierInit) {
    this.view = view;
    this.init = init;
  }

  /** A vote or approval on `proposalId` arrived: try to certify it again. */
  changed(proposalId: string): void {
    this.dirty.add(proposalId);
  }

  /** Certifies every proposal whose vote has ended and passed, once its inputs changed. */
  run(): void {
    const v = this.view;
    const g = v.genesis();
    const gossip = v.gossip();
    if (!g || !gossip) return;
    const now = v.now();
    for (const [pid, p] of v.proposals) {
      if (v.decided(pid) || !votingEnded(p, now)) continue;
      const votes = [...v.votes.values()].filter((x) => x.proposal_id === pid);
      const approvals = [...v.approvals.values()].filter((a) => a.proposal_id === pid);
      this.attest(g, gossip, now, pid, p, votes, approvals);
      // First attempt after the end, then again only when votes or approvals changed.
      if (this.tried.has(pid) && !this.dirty.has(pid)) continue;
      this.tried.add(pid);
      this.dirty.delete(pid);
      if (isGenesisProposal(p)) {
        const c = buildGenesisCertificate(g, p, votes, approvals, now);
        const r = c.ok ? gossip.offerObject('certificate', c.id, c.certificate, this.init.ttl) : c;
        if (r.ok)
          this.init.log.info(
            { certificate: c.ok ? c.id : '' },
            'genesis change approved: certificate built and gossiped',
          );
        else
          this.init.log.info(
            { proposal: pid, code: r.code, reason: r.reason },
            'genesis change not certified',
          );
        continue;
      }
      const b = buildCertificate(g, p, votes, approvals, now);
      if (!b.ok) {
        this.init.log.info({ proposal: pid, code: b.code, reason: b.reason }, 'proposal not certified');
        continue;
      }
      const r = gossip.offerObject('certificate', b.id, b.certificate, this.init.ttl);
      if (!r.ok) {
        this.init.log.info({ proposal: pid, code: r.code, reason: r.reason }, 'certificate not taken');
        continue;
      }
      this.init.log.info(
        { version: b.plan.version, activation_height: b.plan.activation_height, certificate: b.id },
        'upgrade approved: certificate built and gossiped',
      );
      // The seed's "Package Discovery Integration": the approved release is announced by gossip.
      gossip
        .announce(b.plan.version)
        .catch((err: Error) =>
          this.init.log.info(
            { version: b.plan.version, error: err.message },
            'approved release not announced',
          ),
        );
    }
  }

  /** A validator node signs (again) the tally it holds, if due (see the header). */
  private attest(
    g: TrustedGenesis,
    gossip: GossipService,
    now: ChainPoint,
    pid: string,
    p: AnyProposal,
    votes: readonly Vote[],
    approvals: readonly Approval[],
  ): void {
    const signer = this.init.signer;
    if (!signer || !g.validatorIndex.has(signer.publicKeyHex)) return;
    const clock = this.init.clock();
    const seen = this.endedAt.get(pid) ?? clock;
    this.endedAt.set(pid, seen);
    if (clock < seen + settleMs(g)) return;
    const mine = approvals.find((a) => a.validator === signer.publicKeyHex);
    // A hard fork or a genesis change needs its operator's consent first.
    if ((isGenesisProposal(p) || p.fork === 'hard') && !mine) return;
    const { commitment, passed } = heldCommitment(g, p, pid, votes);
    if (!passed || (mine && sameCommitment(mine.tally, commitment))) return;
    const ctx = {
      network_id: g.networkId,
      params: g.body.params,
      now: { height: now.height, time_ms: Math.max(now.time_ms, (mine?.time_ms ?? 0) + 1) },
      release: null,
    };
    const a = buildApproval(ctx, signer.privateKey, pid, approvalTarget(p), commitment);
    const r = gossip.offerObject('approval', objectId(a), a, this.init.ttl);
    if (r.ok)
      this.init.log.info(
        { proposal: pid, voters: commitment.voters, votes_root: commitment.votes_root },
        'tally attested',
      );
    else this.init.log.info({ proposal: pid, code: r.code, reason: r.reason }, 'tally attestation not taken');
  }
}
