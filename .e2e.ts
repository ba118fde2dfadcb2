import { makeTestCa } from './test/helpers/tls.ts';
import { startNginx } from './test/helpers/nginx.ts';
import { writeFileSync } from 'node:fs';
const ca = makeTestCa();
const ng = await startNginx(process.argv[2]!, ca);
writeFileSync('/tmp/e2e/env', `export URL=${ng.url}\nexport CA=${ca.caCert}\n`);
console.log('ready');
await new Promise((r) => setTimeout(r, 120000));
await ng.stop();
