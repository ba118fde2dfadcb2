/**
 * DchatNodes run inside the test process on loopback (ipfs-download, mixed-download): user role,
 * no prefetch (the test says what to fetch), quick redials, silent logs; stopped together.
 */
import assert from 'node:assert/strict';
import pino from 'pino';
import { controlRequest } from '../../src/node/control.ts';
import { DchatNode } from '../../src/node/daemon.ts';
import type { HomePaths } from '../../src/store/home.ts';

const log = pino({ level: 'silent' });

export class InProcessNodes {
  readonly nodes: DchatNode[] = [];
  private readonly env: (() => NodeJS.ProcessEnv) | undefined;

  /**
   * `env`: given to each node's downloads (e.g. NODE_EXTRA_CA_CERTS of a test mirror's CA, made
   * in the test file's `before`).
   */
  constructor(env?: () => NodeJS.ProcessEnv) {
    this.env = env;
  }

  async start(paths: HomePaths, bootstrap: string[] = []): Promise<DchatNode> {
    const n = await DchatNode.create(
      paths,
      {
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap,
        role: 'user',
        prefetch: false,
        platform: 'linux-x64',
        announceTtl: 4,
        redialMs: 200,
        ...(this.env ? { env: this.env() } : {}),
      },
      log,
    );
    this.nodes.push(n);
    await n.start();
    return n;
  }

  /** Waits (up to 15 s) until the node of `paths` is connected to `peer`. */
  async connected(paths: HomePaths, peer: string): Promise<void> {
    for (let i = 0; i < 150; i++) {
      if ((await controlRequest(paths, 'status')).connected_peers.some((p) => p.id === peer)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail(`not connected to ${peer}`);
  }

  /** The first listen address of the node of `paths`. */
  async address(paths: HomePaths): Promise<string> {
    return `${(await controlRequest(paths, 'status')).addresses[0]}`;
  }

  async stop(): Promise<void> {
    for (const n of this.nodes) await n.stop();
  }
}
