/**
 * Fork rules at the connection (issue 11, EIP-2124): on every new connection the dialer opens
 * `/dchat/hello/1` and both sides swap one hello (model/hello.ts: network, fork id, version,
 * height); each side judges the other with governance/fork-id.ts `judgePeer`. A peer on another
 * network, on the old fork after a hard fork's height, or below an upgrade's
 * min_compatible_version is refused: one clear log line, a counter for `node status`, a hang-up,
 * and the connection gater keeps it out for `refuseMs` (then it may come back and is judged again,
 * e.g. once it upgraded). When this node's own fork id changes (it passed a fork height, or learned
 * a new upgrade), every connected peer is judged again.
 *
 * A peer that does not speak the protocol, or breaks it (timeout, oversize, garbage), is not
 * refused for that: fork rules need a fork id, and transport trouble is not one.
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { DchatError } from '../../errors.ts';
import { type ForkView, forkIdOfView, judgePeer } from '../../governance/fork-id.ts';
import { HELLO_FORMAT, type Hello, HelloSchema, MAX_HELLO_BYTES } from '../../model/hello.ts';
import type { BanList } from './bans.ts';
import type { ProtocolHost } from './rpc.ts';

export const HELLO_PROTOCOL = '/dchat/hello/1';
const EXCHANGE_TIMEOUT_MS = 5000;
const DEFAULT_REFUSE_MS = 60_000;
/** How often the node's own fork id is compared with the last one announced. */
const WATCH_MS = 500;

export interface ForkGuardHost extends ProtocolHost {
  hangUp(peer: PeerId): Promise<void>;
  getPeers(): PeerId[];
  getConnections(peer: PeerId): Connection[];
  addEventListener(type: 'peer:connect', listener: (e: CustomEvent<PeerId>) => void): void;
  removeEventListener(type: 'peer:connect', listener: (e: CustomEvent<PeerId>) => void): void;
}

export interface ForkGuardInit {
  /** This node's fork view now; undefined without a pinned genesis (no rules apply). */
  view: () => ForkView | undefined;
  /** This node's software version. */
  version: string;
  bans: BanList;
  refuseMs?: number;
  now?: () => number;
  onLog?: (level: 'debug' | 'info' | 'warn', msg: string, data?: Record<string, unknown>) => void;
}

export interface ForkRefusal {
  peer: string;
  code: string;
  reason: string;
  at: string;
}

export interface ForkGuardStatus {
  network_id: string | null;
  fork_id: { hash: string; next: number } | null;
  version: string;
  refused_peers: number;
  last_refusal: ForkRefusal | null;
  /** Peers whose hello we have, by id: what they said. */
  peers: Record<string, { fork: string | null; version: string; height: number | null }>;
}

const MAX_KNOWN_PEERS = 1024;

export class ForkGuard {
  refused = 0;
  lastRefusal: ForkRefusal | undefined;
  private readonly host: ForkGuardHost;
  private readonly init: ForkGuardInit;
  private readonly now: () => number;
  private readonly said = new Map<string, Hello>();
  private lastId = '';
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly onConnect = (e: CustomEvent<PeerId>) => {
    const peer = e.detail;
    if (this.host.getConnections(peer).some((c) => c.direction === 'outbound')) void this.exchange(peer);
  };

  constructor(host: ForkGuardHost, init: ForkGuardInit) {
    this.host = host;
    this.init = init;
    this.now = init.now ?? Date.now;
  }

  async start(): Promise<void> {
    this.running = true;
    await this.host.handle(HELLO_PROTOCOL, (stream, conn) => this.answer(stream, conn), {
      maxInboundStreams: 2,
      maxOutboundStreams: 2,
    });
    this.host.addEventListener('peer:connect', this.onConnect);
    this.lastId = this.idString();
    this.watch();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.host.removeEventListener('peer:connect', this.onConnect);
    await this.host.unhandle(HELLO_PROTOCOL).catch(() => {});
  }

  /** What this node says in its hello. */
  hello(): Hello {
    const v = this.init.view();
    return {
      format: HELLO_FORMAT,
      network_id: v?.networkId ?? null,
      fork: v ? forkIdOfView(v) : null,
      version: this.init.version,
      height: v && v.head > 0 ? v.head : null,
    };
  }

  status(): ForkGuardStatus {
    const h = this.hello();
    return {
      network_id: h.network_id,
      fork_id: h.fork,
      version: h.version,
      refused_peers: this.refused,
      last_refusal: this.lastRefusal ?? null,
      peers: Object.fromEntries(
        [...this.said].map(([p, s]) => [
          p,
          { fork: s.fork ? `${s.fork.hash}/${s.fork.next}` : null, version: s.version, height: s.height },
        ]),
      ),
    };
  }

  /** Dials `peer` on /dchat/hello/1, swaps hellos, judges. Never throws. */
  async exchange(peer: PeerId): Promise<void> {
    if (!this.running) return;
    const signal = AbortSignal.timeout(EXCHANGE_TIMEOUT_MS);
    let stream: Stream | undefined;
    try {
      stream = await this.host.dialProtocol(peer, HELLO_PROTOCOL, { signal });
      const lp = lpStream(stream, { maxDataLength: MAX_HELLO_BYTES });
      await lp.write(encode(this.hello()), { signal });
      const theirs = parse((await lp.read({ signal })).subarray());
      await stream.close({ signal }).catch(() => stream?.abort(new Error('close failed')));
      this.judge(peer, theirs);
    } catch (err) {
      stream?.abort(err instanceof Error ? err : new Error(String(err)));
      this.init.onLog?.('debug', 'hello exchange failed', {
        peer: peer.toString(),
        error: (err as Error).message,
      });
    }
  }

  /** A peer dialled us: read its hello, answer with ours (even to refuse it), judge. */
  private async answer(stream: Stream, conn: Connection): Promise<void> {
    const signal = AbortSignal.timeout(EXCHANGE_TIMEOUT_MS);
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_HELLO_BYTES });
      const theirs = parse((await lp.read({ signal })).subarray());
      await lp.write(encode(this.hello()), { signal });
      await stream.close({ signal }).catch(() => stream.abort(new Error('close failed')));
      this.judge(conn.remotePeer, theirs);
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private judge(peer: PeerId, theirs: Hello): void {
    const id = peer.toString();
    if (!this.said.has(id) && this.said.size >= MAX_KNOWN_PEERS) {
      const oldest = this.said.keys().next().value;
      if (oldest !== undefined) this.said.delete(oldest);
    }
    this.said.set(id, theirs);
    const verdict = judgePeer(this.init.view(), theirs, this.init.version);
    if (!verdict) return;
    this.refused++;
    const mine = this.hello();
    this.lastRefusal = {
      peer: id,
      code: verdict.code,
      reason: verdict.reason,
      at: new Date(this.now()).toISOString(),
    };
    this.init.onLog?.('warn', `refusing peer on another fork: ${verdict.reason}`, {
      peer: id,
      code: verdict.code,
      peer_fork: theirs.fork,
      peer_version: theirs.version,
      peer_height: theirs.height,
      our_fork: mine.fork,
      our_height: mine.height,
    });
    this.init.bans.ban(id, this.now() + (this.init.refuseMs ?? DEFAULT_REFUSE_MS));
    void this.host.hangUp(peer).catch(() => {});
  }

  private idString(): string {
    const h = this.hello();
    return `${h.network_id}|${h.fork?.hash}|${h.fork?.next}`;
  }

  /** Our fork id changed (a fork height passed, an upgrade learned): judge every peer again. */
  private watch(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const id = this.idString();
      if (id !== this.lastId) {
        this.lastId = id;
        this.init.onLog?.('info', 'fork id changed; checking peers again', { fork: this.hello().fork });
        for (const p of this.host.getPeers()) void this.exchange(p);
      }
      this.watch();
    }, WATCH_MS);
    this.timer.unref();
  }
}

function encode(h: Hello): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(h));
}

function parse(bytes: Uint8Array): Hello {
  let data: unknown;
  try {
    data = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new DchatError('E_MALFORMED', 'hello is not JSON', { cause });
  }
  const r = HelloSchema.safeParse(data);
  if (!r.success) throw new DchatError('E_MALFORMED', `hello: ${r.error.issues[0]?.message ?? 'invalid'}`);
  return r.data;
}
