/**
 * The main job (README's first command): a local release network on this machine. It makes
 * release keys, publishes signed releases into a mirror directory, pins the root on a node home,
 * verifies a package, and shows a tampered copy refused. Everything stays under .demo/ and
 * loopback; each run starts from nothing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const demo = join(root, '.demo');
const bin = (name: string) => join(root, 'dist', 'cli', `${name}.js`);

function run(tool: 'dchat' | 'dchat-sign' | 'dchat-test', args: string[], expectExit = 0): string {
  const shown = `${tool} ${args.join(' ')}`.replaceAll(demo, '.demo');
  process.stdout.write(`\n$ ${shown}\n`);
  const r = spawnSync(process.execPath, [bin(tool), ...args], { cwd: demo, encoding: 'utf8' });
  process.stdout.write(r.stdout);
  process.stdout.write(r.stderr);
  if (r.status !== expectExit) {
    process.stderr.write(`demo: expected exit ${expectExit}, got ${r.status}\n`);
    process.exit(1);
  }
  return r.stdout;
}

rmSync(demo, { recursive: true, force: true });
mkdirSync(demo, { recursive: true });
const repo = join(demo, 'mirror');
const home = join(demo, 'node-home');

console.log('== 1. Release maintainers make keys (2-of-3 threshold)');
for (const k of ['alice', 'bob', 'carol']) run('dchat-sign', ['keygen', '--out', `${k}.key`]);
run('dchat', [
  'release',
  'init',
  '--out',
  repo,
  '--key',
  'alice.key',
  '--key',
  'bob.key',
  '--key',
  'carol.key',
  '--threshold',
  '2',
]);

console.log('\n== 2. Two releases are built, signed and published into the mirror directory');
for (const v of ['1.0.0', '1.1.0']) {
  const pkg = join(demo, `dchat-${v}-linux-x64`);
  writeFileSync(
    pkg,
    Buffer.concat([Buffer.from(`#!/bin/sh\necho dchat ${v}\n`), randomBytes(3 * 1024 * 1024)]),
  );
  run('dchat-sign', ['--key', 'alice.key', '--input', pkg, '--output', `${pkg}.sig`]);
  run('dchat', [
    'release',
    'publish',
    '--package',
    pkg,
    '--version',
    v,
    '--platform',
    'linux-x64',
    '--out',
    repo,
    '--key',
    'alice.key',
    '--key',
    'bob.key',
    '--sig',
    `${pkg}.sig`,
  ]);
}

console.log('\n== 3. A node pins the network root and verifies a package offline');
run('dchat', ['--home', home, 'trust', 'init', '--root', join(repo, 'root.json')]);
run('dchat', [
  '--home',
  home,
  'update',
  'verify',
  '--package',
  join(repo, 'packages', 'dchat-1.1.0-linux-x64'),
  '--version',
  '1.1.0',
  '--metadata',
  repo,
]);
run('dchat', ['--home', home, 'trust', 'show']);

console.log('\n== 4. Attacks are refused (exit 3)');
const tampered = join(demo, 'dchat-1.1.0-linux-x64.tampered');
const bytes = readFileSync(join(repo, 'packages', 'dchat-1.1.0-linux-x64'));
bytes[100] = (bytes[100] ?? 0) ^ 0xff;
writeFileSync(tampered, bytes);
run(
  'dchat',
  [
    '--home',
    home,
    'update',
    'verify',
    '--package',
    tampered,
    '--version',
    '1.1.0',
    '--platform',
    'linux-x64',
  ],
  3,
);
run(
  'dchat',
  [
    '--home',
    home,
    'update',
    'verify',
    '--package',
    join(repo, 'packages', 'dchat-1.0.0-linux-x64'),
    '--version',
    '1.1.0',
    '--platform',
    'linux-x64',
  ],
  3,
);
run(
  'dchat',
  [
    'release',
    'publish',
    '--package',
    tampered,
    '--version',
    '1.2.0',
    '--platform',
    'linux-x64',
    '--out',
    repo,
    '--key',
    'alice.key',
  ],
  3,
);

console.log(
  "\n== 5. dchat's embedded mirror serves the directory; a second node discovers, downloads and verifies",
);
const server = spawn(
  process.execPath,
  [bin('dchat'), 'mirror', 'serve', '--dir', repo, '--listen', '127.0.0.1:0', '--json'],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
const url = await new Promise<string>((resolveUrl, reject) => {
  let buf = '';
  server.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    const m = /"url":"([^"]+)"/.exec(buf);
    if (m) resolveUrl(m[1] as string);
  });
  server.once('exit', (code) => reject(new Error(`mirror exited ${code}`)));
});
const home2 = join(demo, 'node-home-2');
try {
  run('dchat', ['--home', home2, 'trust', 'init', '--root', join(repo, 'root.json')]);
  run('dchat', [
    '--home',
    home2,
    'update',
    'add-mirror',
    '--url',
    url,
    '--mirror-type',
    'https',
    '--region',
    'local',
  ]);
  run('dchat', ['--home', home2, 'update', 'list-mirrors']);
  run('dchat', ['--home', home2, 'update', 'check']);
  run('dchat', ['--home', home2, 'update', 'list-versions']);
  run('dchat', ['--home', home2, 'update', 'download', '--version', '1.1.0', '--platform', 'linux-x64']);
  run('dchat', [
    '--home',
    home2,
    'update',
    'verify',
    '--package',
    join(home2, 'packages', 'dchat-1.1.0-linux-x64'),
    '--version',
    '1.1.0',
  ]);
} finally {
  server.kill('SIGTERM');
}

console.log(
  '\n== 6. A release spreads by gossip among real libp2p nodes on loopback (peer transfer, every chunk verified)',
);
const harness = join(demo, 'harness');
run('dchat-test', [
  '--home',
  harness,
  'distribute-update',
  '--version',
  '1.0.0',
  '--method',
  'gossip',
  '--nodes',
  '5',
]);
run('dchat-test', ['--home', harness, 'verify-distribution', '--version', '1.0.0']);

console.log(`\n✅ Demo complete. Watch: the mirror directory ${repo}; node homes ${home} and ${home2};`);
console.log(`   the gossip run's nodes, logs and report under ${harness}.`);
console.log(
  '   Switching versions together at a governance-chosen height comes with the governance and activation issues.',
);
