import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCa {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  caPem: string;
}

/**
 * A throwaway CA and a server certificate for 127.0.0.1/localhost/::1, made with openssl, as an
 * operator would for a private mirror. Clients trust it through NODE_EXTRA_CA_CERTS (or `ca:`).
 */
export function makeTestCa(inDir?: string): TestCa {
  const dir = inDir ?? mkdtempSync(join(tmpdir(), 'dchat-ca-'));
  const run = (args: string[]) =>
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  run([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=dchat test CA',
  ]);
  run([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=localhost',
  ]);
  const ext = join(dir, 'ext.cnf');
  execFileSync('sh', [
    '-c',
    `printf 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\\nbasicConstraints=CA:FALSE\\n' > ${ext}`,
  ]);
  run([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    ext,
  ]);
  return {
    dir,
    caCert: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    caPem: readFileSync(join(dir, 'ca.pem'), 'utf8'),
  };
}
