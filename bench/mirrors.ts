/**
 * The three-mirror case of `npm run bench -- download`: three loopback nginx HTTPS mirrors of the
 * same repository, each serving at most one connection per port at `limit_rate` R (so a client
 * gains only by using every mirror at once). dchat given the three mirrors vs dchat given one vs
 * `aria2c -s3 -x1` given the same three URIs, runs interleaved. DESIGN target: the aggregate rate
 * with k mirrors >= 0.87 k R; peak RSS <= 150 MB.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, nginxConf } from '../test/helpers/nginx.ts';
import { makeTestCa, type TestCa } from '../test/helpers/tls.ts';
import { dchatHome, publishRandom, settle } from './download-fixture.ts';
import { ARIA2_PLAIN, fmt, median, reportRss, timeCommand } from './util.ts';

const K = 3;
/** Per-mirror rate in nginx's units (m = MiB/s) and in bytes per second. */
const RATE = '50m';
const RATE_BPS = 50 * 1024 * 1024;
const AGGREGATE_TARGET = 0.87;

export async function benchMirrors(size: number, runs: number): Promise<boolean> {
  const dir = mkdtempSync(join(tmpdir(), 'dchat-bench-mirrors-'));
  const ca = makeTestCa();
  let stop: (() => Promise<void>) | undefined;
  try {
    const pub = await publishRandom(dir, size);
    const nginx = await startLimitedMirrors(pub.repo, ca, K);
    stop = nginx.stop;
    const env = { ...process.env, NODE_EXTRA_CA_CERTS: ca.caCert };
    const three = dchatHome(join(dir, 'home3'), pub, nginx.urls, env);
    const one = dchatHome(join(dir, 'home1'), pub, nginx.urls.slice(0, 1), env);
    const outDir = join(dir, 'out');
    mkdirSync(outDir);
    const out = join(outDir, 'pkg');
    const rss3: (number | undefined)[] = [];
    const rss1: (number | undefined)[] = [];
    const run3 = () => {
      const r = three.download();
      rss3.push(r.rss);
      rmSync(three.final);
      return r.ms;
    };
    const run1 = () => {
      const r = one.download();
      rss1.push(r.rss);
      rmSync(one.final);
      return r.ms;
    };
    const aria2 = () => {
      for (const f of [out, `${out}.aria2`]) rmSync(f, { force: true });
      settle();
      return timeCommand('aria2c', [
        ...ARIA2_PLAIN,
        `--ca-certificate=${ca.caCert}`,
        `--checksum=sha-256=${pub.sha256}`,
        `-s${K}`,
        '-x1',
        '-d',
        outDir,
        '-o',
        'pkg',
        ...nginx.urls.map((u) => `${u}${pub.targetPath}`),
      ]);
    };
    console.log(
      `mirrors: ${K} mirrors, each 1 connection at limit_rate ${RATE} (R = ${(RATE_BPS / 1e6).toFixed(1)} MB/s), ` +
        `${(size / 1024 ** 2).toFixed(0)} MiB, ${runs} interleaved runs each`,
    );
    // Warm-up: page cache of the served file, writeback of the set-up.
    run3();
    aria2();
    rss3.length = 0;
    rss1.length = 0;
    const t3: number[] = [];
    const t1: number[] = [];
    const ta: number[] = [];
    for (let i = 0; i < runs; i++) {
      t3.push(run3());
      t1.push(run1());
      ta.push(aria2());
    }
    const rate = (ms: number) => (size / ms) * 1000;
    const mb = (bps: number) => `${(bps / 1e6).toFixed(1)} MB/s`;
    const r3 = rate(median(t3));
    const r1 = rate(median(t1));
    const ra = rate(median(ta));
    const vs3 = r3 / (K * RATE_BPS);
    const vs1 = r1 / RATE_BPS;
    const ok3 = vs3 >= AGGREGATE_TARGET;
    console.log(
      `mirrors: dchat x${K} mirrors median ${median(t3).toFixed(0)} ms, ${mb(r3)} = ${vs3.toFixed(3)} k R ` +
        `(target >= ${AGGREGATE_TARGET} k R) ${ok3 ? 'PASS' : 'FAIL'}; runs [${fmt(t3)}]`,
    );
    console.log(
      `mirrors: dchat x1 mirror median ${median(t1).toFixed(0)} ms, ${mb(r1)} = ${vs1.toFixed(3)} R; ` +
        `x${K} / x1 = ${(r3 / r1).toFixed(2)}x; runs [${fmt(t1)}]`,
    );
    console.log(
      `mirrors: aria2c -s${K} -x1 median ${median(ta).toFixed(0)} ms, ${mb(ra)} = ${(ra / (K * RATE_BPS)).toFixed(3)} k R; ` +
        `dchat x${K} / aria2c = ${(median(t3) / median(ta)).toFixed(3)}x time; runs [${fmt(ta)}]`,
    );
    // Both lines always print (no short-circuit).
    const rssOk = [
      reportRss('mirrors', `dchat x${K} mirrors`, rss3),
      reportRss('mirrors', 'dchat x1 mirror', rss1),
    ];
    return ok3 && rssOk.every(Boolean);
  } finally {
    await stop?.();
    rmSync(dir, { recursive: true, force: true });
    rmSync(ca.dir, { recursive: true, force: true });
  }
}

/**
 * One nginx (own prefix, foreground, like test/helpers/nginx.ts) with `k` HTTPS server blocks on
 * free ports, all serving `root`, each limited to one connection per port at RATE.
 */
async function startLimitedMirrors(
  root: string,
  ca: TestCa,
  k: number,
): Promise<{ urls: string[]; stop(): Promise<void> }> {
  const prefix = mkdtempSync(join(tmpdir(), 'dchat-nginx-mirrors-'));
  const ports: number[] = [];
  while (ports.length < k) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const servers = ports
    .map(
      (port) => `  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${ca.serverCert};
    ssl_certificate_key ${ca.serverKey};
    root ${root};
    limit_conn perport 1;
    limit_rate ${RATE};
    location / { try_files $uri =404; }
  }`,
    )
    .join('\n');
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    nginxConf(
      prefix,
      `  limit_conn_zone $server_port zone=perport:1m;
  limit_conn_status 503;
${servers}`,
    ),
  );
  const proc: ChildProcess = spawn('nginx', ['-p', prefix, '-c', conf, '-e', `${prefix}/error.log`], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (proc.exitCode !== null) return resolve();
      proc.once('exit', () => resolve());
      proc.kill('SIGQUIT');
      setTimeout(() => proc.kill('SIGKILL'), 3000).unref();
    }).then(() => rmSync(prefix, { recursive: true, force: true }));
  try {
    for (const port of ports) await waitForPort(port, proc);
  } catch (e) {
    await stop();
    throw e;
  }
  return { urls: ports.map((p) => `https://127.0.0.1:${p}`), stop };
}

async function waitForPort(port: number, proc: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null)
      throw new Error(`nginx exited (${proc.exitCode}) before listening on ${port}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nginx did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
