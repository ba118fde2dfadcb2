/**
 * The main job (README's first command): a whole dchat network on this machine upgrades itself.
 * `dchat testnet --scenario upgrade` builds dchat 1.0.0 and 1.1.0 from this checkout (real single
 * executables), publishes both with a fresh release key to dchat's embedded mirror, founds a
 * network (genesis: token holders, validators), starts supervised nodes on 1.0.0 (plus one kept
 * on 1.0.0), and then by itself: a holder proposes 1.1.0, holders vote, validators approve, every
 * node pre-downloads and verifies 1.1.0 during the grace period and switches at the activation
 * height; the node left on 1.0.0 is refused after the hard fork. Watch it on the dashboard URL it
 * prints. Everything stays under .demo/ and on loopback; each run starts from nothing.
 * Ends by itself (exit 0 when every node switched; 1 otherwise); `npm run demo -- --stay` keeps
 * the network running until Ctrl-C; `-- --fork soft` shows the soft-fork rule instead.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const demo = join(root, '.demo');
const stay = process.argv.includes('--stay');
const fi = process.argv.indexOf('--fork');
const fork = fi > 0 ? (process.argv[fi + 1] ?? 'hard') : 'hard';

rmSync(demo, { recursive: true, force: true });
mkdirSync(demo, { recursive: true });
const args = [
  join(root, 'dist', 'cli', 'dchat.js'),
  '--home',
  join(demo, 'home'),
  '--json',
  'testnet',
  '--scenario',
  'upgrade',
  '--from',
  '1.0.0',
  '--to',
  '1.1.0',
  '--fork',
  fork,
  '--validators',
  '3',
  '--relays',
  '1',
  '--users',
  '2',
  '--dir',
  join(demo, 'testnet'),
];
console.log(
  `$ dchat testnet --scenario upgrade --from 1.0.0 --to 1.1.0 --fork ${fork} --validators 3 --relays 1 --users 2 --dir .demo/testnet`,
);
console.log('   (two real release builds of this checkout come first: a minute or two)\n');
const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
// The testnet's human lines (on stderr under --json) are the demo's narration.
child.stderr.pipe(process.stdout);
let buf = '';
let code: number | undefined;
let dashboard = '';
child.stdout.setEncoding('utf8');
child.stdout.on('data', (d: string) => {
  buf += d;
  for (;;) {
    const nl = buf.indexOf('\n');
    if (nl < 0) break;
    const line = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    let rec: { event?: string; ok?: boolean; dashboard_url?: string };
    try {
      rec = JSON.parse(line);
    } catch {
      continue;
    }
    if (rec.event === 'started') dashboard = rec.dashboard_url ?? '';
    if (rec.event === 'started') console.log(`\n👀 Watch the upgrade live: ${rec.dashboard_url}\n`);
    if (rec.event === 'upgrade') {
      const { event: _e, ...report } = rec;
      writeFileSync(join(demo, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
      code = rec.ok ? 0 : 1;
      console.log(
        `\n${rec.ok ? '✅ Demo complete' : '❌ Demo failed'}: report in .demo/report.json; nodes' homes and logs in .demo/testnet/<node>/ (node.log), testnet.json beside them.`,
      );
      if (stay) console.log(`   Still running (--stay): dashboard ${dashboard}; Ctrl-C to stop.`);
      else child.kill('SIGTERM');
    }
  }
});
const stop = () => child.kill('SIGTERM');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
child.on('exit', (c) => {
  process.exit(code ?? (c === 0 ? 1 : (c ?? 1)));
});
