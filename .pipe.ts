import { readFileSync, openSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { HttpsSource } from './src/sources/https.ts';
import { blake3Bytes } from './src/crypto/hash.ts';
import { StreamDigest } from './src/download/stream-digest.ts';
import { makeTestCa } from './test/helpers/tls.ts';
import { startNginx } from './test/helpers/nginx.ts';
const repo = '/tmp/smoke-big/repo';
const ca = makeTestCa();
const ng = await startNginx(repo, ca);
const src = new HttpsSource({ url: ng.url, ca: ca.caPem });
const size = 1024 * 1024 * 1024;
const stage = Number(process.argv[2]);
const cs = 1 << 20;
for (let run = 0; run < 2; run++) {
  await rm('/tmp/pipe.out', { force: true });
  const fh = await open('/tmp/pipe.out', 'w');
  const sd = stage >= 4 ? new StreamDigest() : undefined;
  const t0 = performance.now(); const c0 = process.cpuUsage();
  let buf = Buffer.allocUnsafe(cs); let fill = 0; let idx = 0; const pend = new Set<Promise<unknown>>();
  for await (const piece of src.streamRange({ target: 'dchat-1.0.0-linux-x64', sha256: 'x'.repeat(64), start: 0, end: size, maxBytes: size })) {
    if (stage < 2) continue;
    let off = 0;
    while (off < piece.byteLength) {
      const n = Math.min(piece.byteLength - off, cs - fill);
      buf.set(piece.subarray(off, off + n), fill); fill += n; off += n;
      if (fill === cs) {
        blake3Bytes(buf);
        if (stage >= 3) { const w = fh.write(buf, 0, cs, idx * cs); pend.add(w); w.then(() => pend.delete(w)); if (pend.size >= 32) await Promise.race(pend); if (stage >= 4) { await w; await sd!.update(buf); } }
        idx++; buf = Buffer.allocUnsafe(cs); fill = 0;
      }
    }
  }
  await Promise.all(pend);
  const t1 = performance.now();
  if (sd) await sd.digest();
  const t2 = performance.now();
  if (stage >= 5) await fh.datasync();
  await fh.close();
  const c = process.cpuUsage(c0);
  console.log(`stage ${stage}: ${(t1 - t0).toFixed(0)} ms stream, digest wait ${(t2 - t1).toFixed(0)}, total ${(performance.now() - t0).toFixed(0)} cpu u ${(c.user / 1000).toFixed(0)} s ${(c.system / 1000).toFixed(0)}`);
}
await src.close(); await ng.stop();
