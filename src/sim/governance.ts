/**
 * Governance in the simulator (issue 10 item 5): the real gossip core with the real governance
 * check (Ed25519 signatures, genesis snapshot, tally and certificate rules of src/governance/)
 * on N nodes of virtual time. A proposal, token-holder votes (some holders change their mind:
 * the later vote must win) and validator approvals (consent) spread; when voting ends each honest
 * validator's node attests the tally it holds (a second approval carrying the tally commitment)
 * and an honest validator builds the certificate from what its own node holds, once validators
 * with 2/3 of stake attested that tally, and gossips it. Measured: the time from
 * publication of the certificate until it is held by 99.9% of the honest nodes.
 *
 * Malicious nodes (a fraction of all nodes, and the same fraction of validators):
 *  - swallow everything (never relay);
 *  - forge votes (real holders' keys claimed, signatures wrong) and a certificate of a forged tally;
 *  - replay votes: genuine earlier votes of holders who voted again, after the later ones spread,
 *    and a genuine certificate of another network;
 *  - withhold approvals: malicious validators never approve.
 * This file is the scenario, its event loop and its report; the keys, geneses, signed objects
 * and the memoised object check are in governance-cast.ts.
 */
import type { KeyObject } from 'node:crypto';
import type { GossipActionSink } from '../gossip/core/actions.ts';
import { resolveGossipConfig } from '../gossip/core/config.ts';
import { GOSSIP_FORMAT, type GossipMessage, type SignedObject } from '../gossip/core/messages.ts';
import { GossipNode } from '../gossip/core/node.ts';
import { deriveSeed, Rng } from '../gossip/core/rng.ts';
import { buildCertificate } from '../governance/certificate.ts';
import { objectId, signObject } from '../governance/signing.ts';
import { tally } from '../governance/tally.ts';
import { heldCommitment } from '../governance/tally-commitment.ts';
import {
  APPROVAL_FORMAT,
  type Approval,
  type Certificate,
  type GovernanceKind,
  type Proposal,
  type TallyCommitment,
  type Vote,
} from '../model/governance.ts';
import { EventQueue } from './event-queue.ts';
import { buildCast, objectChecks, T_BASE } from './governance-cast.ts';
import { estimateBytes, Network } from './network.ts';
import { resolveSimOptions, type SimOptions } from './options.ts';
import { neighborsOf } from './topology.ts';
import { buildWorld } from './world.ts';

export interface GovernanceSimOptions {
  nodes: number;
  malicious: number;
  seed: number;
  holders: number;
  validators: number;
  /** Voting period (virtual ms), from the proposal's publication. */
  votingMs: number;
  maxTimeMs: number;
  /** Forged votes each attacker sends each of its peers. */
  forgedPerPeer: number;
}

export const defaultGovernanceSimOptions: GovernanceSimOptions = {
  nodes: 10_000,
  malicious: 0,
  seed: 1,
  holders: 24,
  validators: 7,
  votingMs: 4000,
  maxTimeMs: 120_000,
  forgedPerPeer: 2,
};

export interface GovernanceSimReport {
  format: 'dchat.sim-governance/1';
  options: GovernanceSimOptions;
  honest: number;
  malicious: number;
  /** Virtual ms after the proposal at which the certificate was published (NaN: never built). */
  certificate_published_ms: number;
  /** Virtual ms after the certificate's publication at which 50%, 99% and 99.9% of honest online nodes held it. */
  reach_ms: { p50: number | null; p99: number | null; p999: number | null; all: number | null };
  coverage: number;
  tally: { yes: number; no: number; abstain: number; voters: number; total_weight: number } | null;
  /** The tally of every genuine vote cast (latest per holder): what the certificate should say. */
  genuine_tally: { yes: number; no: number; abstain: number; voters: number; total_weight: number };
  approving_stake: number;
  total_stake: number;
  stop_reason: 'complete' | 'time-limit' | 'no-certificate';
  /** Honest nodes' counters: objects refused as invalid (forged, other network), replays ignored. */
  rejected_invalid: number;
  replays_ignored: number;
  /** Copies already seen (replays of objects a node held or had held are caught here first). */
  duplicates: number;
  attacker_messages: number;
  messages: number;
  bytes: number;
  events: number;
}

/** After the end of voting: validators attest the tally they hold (votes have settled by then). */
const SETTLE_MS = 1000;
/** How long after the end of voting the certifier keeps trying before the run gives up. */
const CERTIFY_WINDOW_MS = 10_000;

const DELIVER = 0;
const TIMER = 1;
const JOIN = 2;
const ACT = 3;
type Act = () => void;

export function runGovernanceSim(partial: Partial<GovernanceSimOptions> = {}): GovernanceSimReport {
  const o: GovernanceSimOptions = { ...defaultGovernanceSimOptions, ...partial };
  const simOpts: SimOptions = resolveSimOptions({
    nodes: o.nodes,
    malicious: o.malicious,
    seed: o.seed,
    protocols: ['ours'],
  });
  const world = buildWorld(simOpts);
  const n = o.nodes;
  const rng = new Rng(deriveSeed(o.seed, 77));
  const cast = buildCast(rng, o, world.publishAt);
  const { holders, validators, genesis: g, elsewhere, proposalFor } = cast;

  // Who is where: holders and validators sit on random honest nodes; validators are malicious in
  // the same proportion as nodes, and those withhold their approvals.
  const honestNodes: number[] = [];
  for (let i = 0; i < n; i++) if (!world.malicious[i]) honestNodes.push(i);
  const pick = () => honestNodes[rng.int(honestNodes.length)] as number;
  const badValidators = Math.round(o.malicious * o.validators);
  const origin = world.origin;

  const proposal = proposalFor('dchat-sim');
  const pid = objectId(proposal);
  const vote = (h: number, option: Vote['option'], at: number, p = proposal, network = 'dchat-sim'): Vote =>
    cast.vote(h, option, at, p, network);

  // ---- the object check, memoised per object; the per-node part on each node's proposals ----------
  const nodeProposals: (Map<string, Proposal> | undefined)[] = new Array(n);
  const checkFor = objectChecks(g, nodeProposals);

  // ---- the engine ----------------------------------------------------------------------------------
  const cfg = resolveGossipConfig({ mode: 'mesh' });
  const cores: (GossipNode<number> | undefined)[] = new Array(n);
  const nodeSeed = deriveSeed(o.seed, 5);
  for (let i = 0; i < n; i++) {
    if (world.malicious[i]) continue;
    nodeProposals[i] = new Map();
    cores[i] = new GossipNode<number>({
      now: 0,
      validate: () => ({ ok: false, code: 'E_UNSUPPORTED' }),
      validateObject: checkFor(i),
      config: cfg,
      seed: deriveSeed(nodeSeed, i),
    });
  }
  const net = new Network(n, simOpts.link, new Rng(deriveSeed(o.seed, 3)), new Rng(deriveSeed(o.seed, 4)));
  const q = new EventQueue<GossipMessage | Act>();
  const online = new Uint8Array(n);
  const timerAt = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  const heldAt = new Float64Array(n).fill(Number.NaN);
  const sizes = new WeakMap<object, number>();
  let now = 0;
  let draining = 0;
  let messages = 0;
  let bytes = 0;
  let attackerMessages = 0;
  let events = 0;
  let honestOnline = 0;
  let covered = 0;
  let certAt = Number.NaN;
  let built: ReturnType<typeof buildCertificate> | undefined;

  const sizeOf = (m: GossipMessage): number => {
    if ((m.type === 'announce' || m.type === 'bundle') && m.kind !== 'release') {
      let s = sizes.get(m.object);
      if (s === undefined) {
        s = JSON.stringify(m.object).length + 120;
        sizes.set(m.object, s);
      }
      return s;
    }
    return estimateBytes(m, 0);
  };
  const send = (from: number, to: number, m: GossipMessage, size = sizeOf(m)) => {
    if (!online[from] || !online[to]) return;
    if (world.malicious[from]) attackerMessages++;
    else {
      messages++;
      bytes += size;
    }
    const at = net.transmit(now, from, to, size);
    if (at >= 0) q.push(at, DELIVER, to, from, 0, size, m);
  };
  const arm = (i: number) => {
    const core = cores[i] as GossipNode<number>;
    const t = Math.max(core.pollTimeout(), now);
    if (t < (timerAt[i] as number)) {
      timerAt[i] = t;
      q.push(t, TIMER, i);
    }
  };
  const sink: GossipActionSink<number> = {
    send: (to, m) => send(draining, to, m),
    action: (a) => {
      if (a.type !== 'object') return;
      if (a.kind === 'proposal') nodeProposals[draining]?.set(a.id, a.object as Proposal);
      if (
        a.kind === 'certificate' &&
        (a.proof as { proposal_id?: string } | undefined)?.proposal_id === pid
      ) {
        if (Number.isNaN(heldAt[draining])) {
          heldAt[draining] = now;
          if (online[draining]) covered++;
        }
      }
    },
  };
  const drain = (i: number) => {
    const outer = draining;
    draining = i;
    (cores[i] as GossipNode<number>).drainTo(sink);
    draining = outer;
    arm(i);
  };
  const at = (t: number, act: Act) => q.push(t, ACT, 0, 0, 0, 0, act);
  const publishAt = (i: number, kind: GovernanceKind, obj: Proposal | Vote | Approval | Certificate) => {
    const core = cores[i];
    if (!core || !online[i]) return;
    const r = core.publishObject(now, kind, objectId(obj), obj, 10);
    drain(i);
    // A vote or approval made before the proposal reached this node: try again, as a user would.
    if (!r.ok && r.code === 'E_NOT_FOUND') at(now + 200, () => publishAt(i, kind, obj));
  };

  // ---- the scenario ----------------------------------------------------------------------------------
  for (let i = 0; i < n; i++) q.push(world.joinAt[i] as number, JOIN, i);
  const t0 = world.publishAt;
  const tEnd = t0 + o.votingMs;
  at(t0, () => publishAt(origin, 'proposal', proposal));
  const superseded: Vote[] = [];
  /** Every genuine vote cast, to compare the certificate's tally with the true one. */
  const genuine: Vote[] = [];
  holders.forEach((_, h) => {
    const node = pick();
    const first = t0 + 100 + rng.next() * (o.votingMs * 0.3);
    if (h % 3 === 0) {
      // Changes their mind: the first vote is replaced by the later one.
      const early = vote(h, 'no', first);
      superseded.push(early);
      genuine.push(early);
      at(first, () => publishAt(node, 'vote', early));
      const later = first + 200 + rng.next() * (o.votingMs * 0.3);
      const late = vote(h, 'yes', later);
      genuine.push(late);
      at(later, () => publishAt(node, 'vote', late));
    } else {
      const option = h % 7 === 1 ? 'no' : h % 11 === 2 ? 'abstain' : 'yes';
      const v = vote(h, option, first);
      genuine.push(v);
      at(first, () => publishAt(node, 'vote', v));
    }
  });
  const approvalBy = (
    v: { priv: KeyObject; pub: string },
    p: Proposal,
    network: string,
    when: number,
    tally: TallyCommitment | null,
  ): Approval =>
    signObject(v.priv, {
      format: APPROVAL_FORMAT,
      network_id: network,
      proposal_id: objectId(p),
      version: p.version,
      activation_height: p.activation_height,
      validator: v.pub,
      time_ms: T_BASE + Math.round(when),
      tally,
    });
  validators.forEach((v, k) => {
    if (k < badValidators) return; // withheld
    const node = pick();
    const when = t0 + 200 + rng.next() * (o.votingMs * 0.5);
    // Consent while voting is open; once it has ended (and settled), the tally its node holds.
    const a = approvalBy(v, proposal, g.networkId, when, null);
    at(when, () => publishAt(node, 'approval', a));
    at(tEnd + SETTLE_MS, () => {
      const core = cores[node];
      if (!core || !online[node]) return;
      const held = core.heldObjects('vote').map((x) => x.object as Vote);
      const c = heldCommitment(g, proposal, pid, held);
      if (c.passed) publishAt(node, 'approval', approvalBy(v, proposal, g.networkId, now, c.commitment));
    });
  });
  // An honest validator's node certifies from what it holds once the attestations are in, trying
  // again until validators with enough stake attested the tally it holds.
  const certifier = pick();
  const certify = () => {
    const core = cores[certifier];
    if (!core) return;
    built = buildCertificate(
      g,
      proposal,
      core.heldObjects('vote').map((x) => x.object as Vote),
      core.heldObjects('approval').map((x) => x.object as Approval),
      { time_ms: T_BASE + Math.round(now), height: null },
    );
    if (!built.ok) {
      if (now < tEnd + CERTIFY_WINDOW_MS) at(now + 200, certify);
      return;
    }
    certAt = now;
    publishAt(certifier, 'certificate', built.certificate);
  };
  at(tEnd + SETTLE_MS + 1, certify);
  // The attackers: forged votes and a forged certificate early; replays after the vote.
  if (o.malicious > 0) {
    const forged: SignedObject[] = [];
    for (let k = 0; k < o.forgedPerPeer; k++) {
      // Dated late in the period: were a forgery taken, it would replace the holder's genuine vote.
      const v = vote(k % o.holders, 'no', tEnd - 50 - k, proposal);
      forged.push({ ...v, signature: v.signature.replace(/^./, v.signature[0] === 'a' ? 'b' : 'a') });
    }
    const otherProposal = proposalFor('dchat-elsewhere');
    const otherVotes = holders.map((_, h) => vote(h, 'yes', t0 + 300, otherProposal, 'dchat-elsewhere'));
    const otherTally = heldCommitment(elsewhere, otherProposal, objectId(otherProposal), otherVotes);
    const foreign = buildCertificate(
      elsewhere,
      otherProposal,
      otherVotes,
      validators.map((v) => approvalBy(v, otherProposal, 'dchat-elsewhere', tEnd, otherTally.commitment)),
      { time_ms: T_BASE + tEnd + 10, height: null },
    );
    const burst = (objs: readonly SignedObject[], kindOf: (x: SignedObject) => GovernanceKind) => () => {
      for (let i = 0; i < n; i++) {
        if (!world.malicious[i] || !online[i]) continue;
        for (const j of neighborsOf(world.topo, i))
          for (const obj of objs)
            send(i, j, {
              format: GOSSIP_FORMAT,
              type: 'announce',
              kind: kindOf(obj),
              id: objectId(obj),
              object: obj,
              ttl: 255,
            } as GossipMessage);
      }
    };
    const isCert = (x: SignedObject) => ('votes' in x ? 'certificate' : 'vote') as GovernanceKind;
    at(
      t0 + 50,
      burst(forged, () => 'vote'),
    );
    at(
      tEnd - 200,
      burst(superseded, () => 'vote'),
    );
    if (foreign.ok) at(tEnd + 100, burst([foreign.certificate, ...superseded], isCert));
  }

  // ---- the loop ----------------------------------------------------------------------------------
  const deadline = t0 + o.maxTimeMs;
  let stop: GovernanceSimReport['stop_reason'] = 'time-limit';
  while (q.pop()) {
    now = q.curTime;
    if (now > deadline) break;
    events++;
    const i = q.curA;
    switch (q.curKind) {
      case DELIVER: {
        const core = cores[i];
        if (core && online[q.curB]) {
          core.receive(now, q.curB, q.curPayload as GossipMessage, q.curD);
          drain(i);
        }
        break;
      }
      case TIMER:
        if (timerAt[i] === now && cores[i] && online[i]) {
          timerAt[i] = Number.POSITIVE_INFINITY;
          (cores[i] as GossipNode<number>).timeout(now);
          drain(i);
        }
        break;
      case JOIN: {
        online[i] = 1;
        if (!world.malicious[i]) honestOnline++;
        for (const j of neighborsOf(world.topo, i)) {
          if (!online[j]) continue;
          cores[i]?.connected(now, j, 'outbound');
          cores[j]?.connected(now, i, 'inbound');
          if (cores[i]) drain(i);
          if (cores[j]) drain(j);
        }
        if (cores[i]) arm(i);
        break;
      }
      case ACT:
        (q.curPayload as Act)();
        break;
    }
    if (now > tEnd + CERTIFY_WINDOW_MS && Number.isNaN(certAt)) {
      stop = 'no-certificate';
      break;
    }
    if (!Number.isNaN(certAt) && covered >= honestOnline) {
      stop = 'complete';
      break;
    }
  }

  const times: number[] = [];
  for (let i = 0; i < n; i++)
    if (!world.malicious[i] && !Number.isNaN(heldAt[i])) times.push((heldAt[i] as number) - certAt);
  times.sort((a, b) => a - b);
  const honest = honestNodes.length;
  const reach = (share: number) => {
    const k = Math.ceil(share * honest);
    return k <= times.length && k > 0 ? Math.round(times[k - 1] as number) : null;
  };
  let invalid = 0;
  let replays = 0;
  let duplicates = 0;
  for (const c of cores) {
    if (!c) continue;
    invalid += c.stats.invalid;
    replays += c.stats.replaysIgnored;
    duplicates += c.stats.duplicates;
  }
  const plan = built?.ok ? built.plan : undefined;
  const truth = tally(g, proposal, pid, genuine);
  return {
    format: 'dchat.sim-governance/1',
    options: o,
    honest,
    malicious: n - honest,
    certificate_published_ms: Number.isNaN(certAt) ? Number.NaN : certAt - t0,
    reach_ms: { p50: reach(0.5), p99: reach(0.99), p999: reach(0.999), all: reach(1) },
    coverage: honest > 0 ? times.length / honest : 0,
    tally: plan
      ? {
          yes: plan.tally.yes,
          no: plan.tally.no,
          abstain: plan.tally.abstain,
          voters: plan.tally.voters,
          total_weight: plan.tally.total_weight,
        }
      : null,
    genuine_tally: {
      yes: truth.yes,
      no: truth.no,
      abstain: truth.abstain,
      voters: truth.voters,
      total_weight: truth.total_weight,
    },
    approving_stake: plan?.approving_stake ?? 0,
    total_stake: g.totalStake,
    stop_reason: stop,
    rejected_invalid: invalid,
    replays_ignored: replays,
    duplicates,
    attacker_messages: attackerMessages,
    messages,
    bytes,
    events,
  };
}

export function formatGovernanceSim(r: GovernanceSimReport): string {
  const ms = (v: number | null) => (v === null ? 'never' : `${v} ms`);
  const lines = [
    `🏛️  Governance simulation: ${r.options.nodes} nodes, ${r.malicious} malicious (${Math.round(100 * r.options.malicious)}%), ${r.options.holders} holders, ${r.options.validators} validators`,
  ];
  if (!r.tally) {
    lines.push(`   no certificate (${r.stop_reason}): the vote or the approvals did not carry the proposal`);
    return lines.join('\n');
  }
  lines.push(
    `   Tally in the certificate: yes ${r.tally.yes}, no ${r.tally.no}, abstain ${r.tally.abstain} of ${r.tally.total_weight} (${r.tally.voters} holders); approving stake ${r.approving_stake}/${r.total_stake}`,
    `   Certificate published ${r.certificate_published_ms} ms after the proposal`,
    `   Certificate held by 50%: ${ms(r.reach_ms.p50)}, 99%: ${ms(r.reach_ms.p99)}, 99.9%: ${ms(r.reach_ms.p999)}, all: ${ms(r.reach_ms.all)} (coverage ${(100 * r.coverage).toFixed(2)}%)`,
    `   Honest nodes refused ${r.rejected_invalid} forged or foreign objects, ignored ${r.replays_ignored} replays of superseded objects and ${r.duplicates} copies already seen; ${r.attacker_messages} attacker messages`,
  );
  return lines.join('\n');
}
