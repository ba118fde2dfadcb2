import { HttpsSource } from './src/sources/https.ts';
import { startFaultMirror, type Fault } from './test/helpers/fault-mirror.ts';
import { makeTestCa } from './test/helpers/tls.ts';
import { makeMirrorRepo, CHUNK } from './test/download/fixture.ts';
const ca = makeTestCa();
const repo = await makeMirrorRepo();
const pkg = await repo.publish('1.0.0', 5 * CHUNK + 1234);
const fault = await startFaultMirror(repo.dir, ca);
const s = new HttpsSource({ url: fault.url, ca: ca.caPem, bodyTimeoutMs: 300, headersTimeoutMs: 300 });
const req = { target: pkg.name, sha256: pkg.sha256, start: 0, end: CHUNK, maxBytes: CHUNK };
const cases: Fault[][] = [[{ kind: 'status', status: 503 }], [{ kind: 'truncate', after: 1000 }], [{ kind: 'drop', after: 5000 }], [{ kind: 'endless' }], [{ kind: 'wrong-length', delta: 100 }], [{ kind: 'wrong-length', delta: -100 }], [{ kind: 'slow', bytesPerSec: 20 }]];
for (const c of cases) {
  fault.setFaults(c);
  const t = performance.now();
  try { await s.fetchRange(req); console.log(c[0]!.kind, 'NO ERROR'); } catch (e: any) { console.log(c[0]!.kind, e.code, e.message, (performance.now() - t).toFixed(0)); }
}
fault.setFaults([{ kind: 'endless', path: /timestamp\.json$/ }]);
try { await s.fetchMetadata('timestamp.json', { maxBytes: 16384 }); } catch (e: any) { console.log('endless-meta', e.code, e.message); }
await s.close(); await fault.stop();
