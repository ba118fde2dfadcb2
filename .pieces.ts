import { HttpsSource } from './src/sources/https.ts';
import { makeTestCa } from './test/helpers/tls.ts';
import { startNginx } from './test/helpers/nginx.ts';
const ca = makeTestCa();
const ng = await startNginx('/tmp/smoke-big/repo', ca);
const src = new HttpsSource({ url: ng.url, ca: ca.caPem });
const size = 1024 * 1024 * 1024;
for (let r = 0; r < 3; r++) {
let n = 0, bytes = 0; const t0 = performance.now(); const c0 = process.cpuUsage();
for await (const p of src.streamRange({ target: 'dchat-1.0.0-linux-x64', sha256: 'x'.repeat(64), start: 0, end: size, maxBytes: size })) { n++; bytes += p.byteLength; }
const c = process.cpuUsage(c0);
console.log('pieces', n, 'avg', (bytes / n).toFixed(0), 'ms', (performance.now() - t0).toFixed(0), 'cpu', ((c.user + c.system) / 1000).toFixed(0));
}
await src.close(); await ng.stop();
