/**
 * The discrete-event loop: N instances of the gossip core (GossipNode) on virtual time, joined by
 * the link model. The engine is the quinn-proto test pump at scale: it delivers each event to the
 * core it is for, drains the core's actions (sends become future deliveries), and arms the core's
 * next timeout. Attackers are not cores: they swallow what they get and send their burst.
 */
import { emptyStats, type GossipActionSink, type GossipStats } from '../gossip/core/actions.ts';
import { type GossipConfig, resolveGossipConfig } from '../gossip/core/config.ts';
import { GOSSIP_MESSAGE_TYPES, type GossipMessage, type GossipMessageType } from '../gossip/core/messages.ts';
import { GossipNode } from '../gossip/core/node.ts';
import { deriveSeed, Rng } from '../gossip/core/rng.ts';
import type { VersionAnnouncement } from '../model/announcement.ts';
import { attackBurst } from './adversary.ts';
import { EventQueue } from './event-queue.ts';
import { estimateBytes, Network } from './network.ts';
import type { SimOptions, SimProtocol } from './options.ts';
import { neighborsOf } from './topology.ts';
import { SIM_NEW_VERSION, SIM_OLD_VERSION, STREAM, type World } from './world.ts';

/** Raw outcome of one protocol on one world; metrics.ts turns it into the report. */
export interface ProtocolRun {
  protocol: SimProtocol;
  /** Virtual ms after publication at which each node accepted the release; NaN: never. */
  deliveredAt: Float64Array;
  /** Hops from the origin along the path the release actually took; -1: never. */
  hop: Int32Array;
  /** 1 for nodes counted in coverage: honest and online at the end. */
  counted: Uint8Array;
  /** Messages sent by honest nodes since publication, indexed like GOSSIP_MESSAGE_TYPES. */
  sentByType: Float64Array;
  bytesSent: number;
  attackerMessages: number;
  lostMessages: number;
  /** Virtual ms after publication when the run stopped, and why. */
  endedAt: number;
  stopReason: 'complete' | 'stalled' | 'time-limit' | 'drained';
  /** Core counters summed over honest nodes. */
  stats: GossipStats;
  events: number;
}

const DELIVER = 0;
const TIMER = 1;
const JOIN = 2;
const LEAVE = 3;
const SPLIT = 4;
const HEAL = 5;
const PUBLISH = 6;
const ATTACK = 7;

const TYPE_INDEX: Record<GossipMessageType, number> = Object.fromEntries(
  GOSSIP_MESSAGE_TYPES.map((t, i) => [t, i]),
) as Record<GossipMessageType, number>;

/**
 * The gossip core's config in a simulation: the node's defaults (the same `resolveGossipConfig` a
 * `dchat node start` core gets) with the scenario's overrides; 'flood' is the seed's protocol.
 */
export function simGossipConfig(o: SimOptions, protocol: SimProtocol): GossipConfig {
  return resolveGossipConfig({
    ...o.gossip,
    mode: protocol === 'ours' ? 'mesh' : 'flood',
    ...(o.antiEntropy ? {} : { antiEntropyMs: 0 }),
  });
}

export function runProtocol(world: World, protocol: SimProtocol): ProtocolRun {
  return new Engine(world, protocol).run();
}

class Engine {
  private readonly w: World;
  private readonly protocol: SimProtocol;
  private readonly n: number;
  private readonly cores: (GossipNode<number> | undefined)[];
  private readonly q = new EventQueue<GossipMessage>();
  private readonly net: Network;
  private readonly online: Uint8Array;
  private readonly timerAt: Float64Array;
  private readonly deliveredAt: Float64Array;
  private readonly hop: Int32Array;
  private readonly sentByType = new Float64Array(GOSSIP_MESSAGE_TYPES.length);
  private readonly cut = new Set<number>();
  private readonly annBytes: number;
  private readonly settleMs: number;
  private readonly maxMessageBytes: number;
  private splitActive = false;
  private now = 0;
  private curHop = 0;
  private bytesSent = 0;
  private attackerMessages = 0;
  private lostMessages = 0;
  private honestOnline = 0;
  private coveredOnline = 0;
  private lastProgressAt: number;
  private events = 0;
  /** The node whose actions `sink` is receiving. */
  private draining = 0;
  private readonly sink: GossipActionSink<number> = {
    send: (to, message) => this.send(this.draining, to, message, estimateBytes(message, this.annBytes)),
    action: (a) => {
      // 'rejected' and 'mirrors-changed' are counted by the core's stats.
      if (a.type === 'accepted') this.accepted(this.draining, a.announcement);
      else if (a.type === 'disconnect') this.cutLink(this.draining, a.peer);
    },
  };

  constructor(world: World, protocol: SimProtocol) {
    this.w = world;
    this.protocol = protocol;
    const o = world.opts;
    const n = o.nodes;
    this.n = n;
    this.annBytes = o.announcementBytes;
    // One resolved config shared by all cores; each core gets its own seed.
    const cfg = simGossipConfig(o, protocol);
    this.maxMessageBytes = cfg.maxMessageBytes;
    // After full coverage, keep counting until the last IHAVE round (gossipHistory heartbeats)
    // and the IWANTs it triggers are done, so message counts include the lazy gossip's tail.
    this.settleMs = cfg.heartbeatMs * cfg.gossipHistory + 500;
    const nodeSeed = deriveSeed(o.seed, STREAM.nodes);
    this.cores = new Array(n);
    for (let i = 0; i < n; i++) {
      if (world.malicious[i]) continue;
      this.cores[i] = new GossipNode<number>({
        now: 0,
        validate: world.validate,
        config: cfg,
        seed: deriveSeed(nodeSeed, i),
        initialHighest: SIM_OLD_VERSION,
      });
    }
    this.net = new Network(
      n,
      o.link,
      new Rng(deriveSeed(o.seed, STREAM.positions)),
      new Rng(deriveSeed(o.seed, STREAM.network)),
    );
    this.online = new Uint8Array(n);
    this.timerAt = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
    this.deliveredAt = new Float64Array(n).fill(Number.NaN);
    this.hop = new Int32Array(n).fill(-1);
    this.lastProgressAt = world.publishAt;
  }

  run(): ProtocolRun {
    const w = this.w;
    const q = this.q;
    const n = this.n;
    // The scenario's schedule: nodes boot (or join late), leave, split, heal; the origin publishes.
    for (let i = 0; i < n; i++) {
      q.push(w.joinAt[i] as number, JOIN, i);
      if (Number.isFinite(w.leaveAt[i])) q.push(w.leaveAt[i] as number, LEAVE, i);
    }
    if (Number.isFinite(w.splitAt)) q.push(w.splitAt, SPLIT);
    if (Number.isFinite(w.healAt)) q.push(w.healAt, HEAL);
    q.push(w.publishAt, PUBLISH);
    if (w.opts.maliciousMode === 'mixed') {
      const rng = new Rng(deriveSeed(w.opts.seed, STREAM.adversary));
      for (let i = 0; i < n; i++) if (w.malicious[i]) q.push(w.publishAt + rng.next() * 100, ATTACK, i);
    }
    return this.loop();
  }

  private loop(): ProtocolRun {
    const q = this.q;
    const w = this.w;
    const deadline = w.publishAt + w.opts.maxTimeMs;
    let completeAt = -1;
    let stopReason: ProtocolRun['stopReason'] = 'drained';
    while (q.pop()) {
      const t = q.curTime;
      if (t > deadline) {
        stopReason = 'time-limit';
        this.now = deadline;
        break;
      }
      this.now = t;
      this.events++;
      switch (q.curKind) {
        case DELIVER:
          this.deliver(q.curA, q.curB, q.curC, q.curD, q.curPayload as GossipMessage);
          break;
        case TIMER:
          this.fireTimer(q.curA, t);
          break;
        case JOIN:
          this.join(q.curA);
          break;
        case LEAVE:
          this.leave(q.curA);
          break;
        case SPLIT:
          this.split();
          break;
        case HEAL:
          this.heal();
          break;
        case PUBLISH:
          this.publish();
          break;
        case ATTACK:
          this.attack(q.curA);
          break;
      }
      if (t < w.publishAt) continue;
      if (this.coveredOnline < this.honestOnline || t < w.lastScenarioAt) completeAt = -1;
      else if (completeAt < 0) completeAt = t;
      if (completeAt >= 0 && t >= completeAt + this.settleMs) {
        stopReason = 'complete';
        break;
      }
      if (t >= w.lastScenarioAt && t - this.lastProgressAt > w.opts.stallMs) {
        stopReason = 'stalled';
        break;
      }
    }
    const counted = new Uint8Array(this.n);
    const stats = emptyStats();
    for (let i = 0; i < this.n; i++) {
      const core = this.cores[i];
      if (!core) continue;
      if (this.online[i]) counted[i] = 1;
      for (const k of Object.keys(stats) as (keyof GossipStats)[]) stats[k] += core.stats[k];
    }
    return {
      protocol: this.protocol,
      deliveredAt: this.deliveredAt,
      hop: this.hop,
      counted,
      sentByType: this.sentByType,
      bytesSent: this.bytesSent,
      attackerMessages: this.attackerMessages,
      lostMessages: this.lostMessages,
      endedAt: this.now - w.publishAt,
      stopReason,
      stats,
      events: this.events,
    };
  }

  // ---- events -------------------------------------------------------------------------------

  private deliver(to: number, from: number, hop: number, bytes: number, message: GossipMessage): void {
    // A connection that closed while the message was in flight loses it.
    if (!this.linkUp(from, to)) return;
    const core = this.cores[to];
    if (!core) return;
    this.curHop = hop;
    core.receive(this.now, from, message, bytes);
    this.drain(to);
  }

  private fireTimer(i: number, t: number): void {
    if (this.timerAt[i] !== t) return; // superseded
    this.timerAt[i] = Number.POSITIVE_INFINITY;
    const core = this.cores[i];
    if (!core || !this.online[i]) return;
    core.timeout(t);
    this.drain(i);
  }

  private join(i: number): void {
    this.online[i] = 1;
    this.net.resetUplink(i, this.now);
    if (!this.w.malicious[i]) {
      this.honestOnline++;
      if (!Number.isNaN(this.deliveredAt[i])) this.coveredOnline++;
    }
    this.lastProgressAt = this.now;
    for (const j of neighborsOf(this.w.topo, i)) if (this.linkUp(i, j)) this.connectPair(i, j);
    const core = this.cores[i];
    if (core) this.armTimer(i, core);
  }

  private leave(i: number): void {
    for (const j of neighborsOf(this.w.topo, i)) if (this.linkUp(i, j)) this.disconnectPair(i, j);
    this.online[i] = 0;
    this.timerAt[i] = Number.POSITIVE_INFINITY;
    if (!this.w.malicious[i]) {
      this.honestOnline--;
      if (!Number.isNaN(this.deliveredAt[i])) this.coveredOnline--;
    }
    this.lastProgressAt = this.now;
  }

  private split(): void {
    this.forCrossingEdges((i, j) => {
      if (this.linkUp(i, j)) this.disconnectPair(i, j);
    });
    this.splitActive = true;
  }

  private heal(): void {
    this.splitActive = false;
    this.lastProgressAt = this.now;
    this.forCrossingEdges((i, j) => {
      if (this.linkUp(i, j)) this.connectPair(i, j);
    });
  }

  private publish(): void {
    const o = this.w.origin;
    const core = this.cores[o];
    if (!core || !this.online[o]) return;
    this.curHop = 0;
    core.publish(this.now, this.w.release);
    this.drain(o);
  }

  private attack(i: number): void {
    if (!this.online[i]) return;
    const rng = new Rng(deriveSeed(deriveSeed(this.w.opts.seed, STREAM.adversary), i));
    const burst = attackBurst(this.w, rng, this.maxMessageBytes);
    for (const j of neighborsOf(this.w.topo, i)) {
      if (!this.linkUp(i, j)) continue;
      for (const m of burst) this.send(i, j, m.message, m.bytes);
    }
  }

  // ---- plumbing -----------------------------------------------------------------------------

  /** Runs every action the core queued, then arms its next timeout. */
  private drain(i: number): void {
    const core = this.cores[i] as GossipNode<number>;
    // A disconnect handled inside drains the peer's core too: restore whose actions these are.
    const outer = this.draining;
    this.draining = i;
    core.drainTo(this.sink);
    this.draining = outer;
    this.armTimer(i, core);
  }

  private send(from: number, to: number, message: GossipMessage, bytes: number): void {
    if (!this.linkUp(from, to)) return;
    if (this.now >= this.w.publishAt) {
      if (this.w.malicious[from]) this.attackerMessages++;
      else {
        const k = TYPE_INDEX[message.type];
        this.sentByType[k] = (this.sentByType[k] as number) + 1;
        this.bytesSent += bytes;
      }
    }
    const at = this.net.transmit(this.now, from, to, bytes);
    if (at < 0) {
      this.lostMessages++;
      return;
    }
    const carries = message.type === 'announce' || message.type === 'bundle';
    this.q.push(at, DELIVER, to, from, carries ? (this.hop[from] as number) + 1 : 0, bytes, message);
  }

  private accepted(i: number, a: VersionAnnouncement): void {
    if (a.version !== SIM_NEW_VERSION || !Number.isNaN(this.deliveredAt[i])) return;
    this.deliveredAt[i] = this.now - this.w.publishAt;
    this.hop[i] = this.curHop;
    if (this.online[i]) this.coveredOnline++;
    this.lastProgressAt = this.now;
  }

  private armTimer(i: number, core: GossipNode<number>): void {
    const t = Math.max(core.pollTimeout(), this.now);
    if (t < (this.timerAt[i] as number)) {
      this.timerAt[i] = t;
      this.q.push(t, TIMER, i);
    }
  }

  /** Node i dials node j. */
  private connectPair(i: number, j: number): void {
    const ci = this.cores[i];
    const cj = this.cores[j];
    ci?.connected(this.now, j, 'outbound');
    cj?.connected(this.now, i, 'inbound');
    if (ci) this.drain(i);
    if (cj) this.drain(j);
  }

  private disconnectPair(i: number, j: number): void {
    const ci = this.cores[i];
    const cj = this.cores[j];
    ci?.disconnected(this.now, j);
    cj?.disconnected(this.now, i);
    if (ci) this.drain(i);
    if (cj) this.drain(j);
  }

  /** Node i's core closed the connection to j (score below the threshold): it stays closed. */
  private cutLink(i: number, j: number): void {
    if (!this.linkUp(i, j)) return;
    this.cut.add(i < j ? i * this.n + j : j * this.n + i);
    const cj = this.cores[j];
    if (cj) {
      cj.disconnected(this.now, i);
      this.drain(j);
    }
  }

  private linkUp(i: number, j: number): boolean {
    if (!this.online[i] || !this.online[j]) return false;
    if (this.splitActive && this.w.side[i] !== this.w.side[j]) return false;
    return this.cut.size === 0 || !this.cut.has(i < j ? i * this.n + j : j * this.n + i);
  }

  private forCrossingEdges(fn: (i: number, j: number) => void): void {
    const side = this.w.side;
    for (let i = 0; i < this.n; i++)
      for (const j of neighborsOf(this.w.topo, i)) if (i < j && side[i] !== side[j]) fn(i, j);
  }
}
