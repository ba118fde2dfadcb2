/**
 * Our rebuild attestations read by tools that are not ours. Debian's in-toto (1.3.1) predates DSSE
 * envelopes and Statement v1 (its verifier reads only the legacy link/layout Metablock), so this
 * test takes what Debian ships for the newer layout instead: securesystemslib's Ed25519 key and
 * signature verification (python3-securesystemslib, installed with in-toto), fed the DSSE
 * pre-authentication encoding computed in Python from the DSSE specification, not by our code. It
 * must accept our envelope, reject one whose payload changed, and read the statement's in-toto and
 * SLSA type fields as the specifications name them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { generateEd25519 } from '../../src/crypto/ed25519.ts';
import {
  builderId,
  DCHAT_BUILD_TYPE,
  SLSA_PROVENANCE,
  STATEMENT_TYPE,
  type Statement,
} from '../../src/model/attestation.ts';
import { signStatement } from '../../src/trust/attestations.ts';
import { signingKeyFromPrivate } from '../../src/trust/keys.ts';

const PY = '/usr/bin/python3';
const CHECK = `
import base64, json, sys
from securesystemslib.signer import SSlibKey, Signature
env = json.load(open(sys.argv[1]))
payload = base64.b64decode(env["payload"])
ptype = env["payloadType"].encode()
pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype, len(payload), payload)
st = json.loads(payload)
pub = st["predicate"]["runDetails"]["builder"]["id"].rsplit(":", 1)[1]
kid = env["signatures"][0]["keyid"]
key = SSlibKey(kid, "ed25519", "ed25519", {"public": pub})
for s in env["signatures"]:
    key.verify_signature(Signature(kid, base64.b64decode(s["sig"]).hex()), pae)
print(json.dumps({"type": st["_type"], "predicate": st["predicateType"], "subject": st["subject"][0]["name"]}))
`;

function securesystemslib(): false | string {
  const ok = spawnSync(PY, ['-c', 'import securesystemslib.signer'], { stdio: 'ignore' }).status === 0;
  if (ok) return false;
  if (process.env.CI === 'true')
    throw new Error('python3-securesystemslib is required in CI (scripts/setup-system.sh installs in-toto)');
  return 'python3-securesystemslib not installed (run scripts/setup-system.sh)';
}

describe('attestations checked by securesystemslib (Debian)', { skip: securesystemslib() }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'dchat-dsse-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const k = signingKeyFromPrivate(generateEd25519().privateKey);
  const statement: Statement = {
    _type: STATEMENT_TYPE,
    subject: [{ name: 'dchat-1.0.0-linux-x64', digest: { sha256: 'a'.repeat(64), blake3: 'b'.repeat(64) } }],
    predicateType: SLSA_PROVENANCE,
    predicate: {
      buildDefinition: {
        buildType: DCHAT_BUILD_TYPE,
        externalParameters: {
          version: '1.0.0',
          platform: 'linux-x64',
          source: { commit: 'c'.repeat(40), dirty: false },
        },
      },
      runDetails: { builder: { id: builderId(k.publicHex) } },
    },
  };
  const run = (env: unknown) => {
    const f = join(dir, `${Math.random()}.json`);
    writeFileSync(f, JSON.stringify(env));
    return spawnSync(PY, ['-c', CHECK, f], { encoding: 'utf8' });
  };

  test('our DSSE envelope verifies under the builder key, and the statement types are the specs\u2019', () => {
    const r = run(signStatement(statement, k));
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      type: 'https://in-toto.io/Statement/v1',
      predicate: 'https://slsa.dev/provenance/v1',
      subject: 'dchat-1.0.0-linux-x64',
    });
  });

  test('a payload changed after signing is rejected by the independent verifier', () => {
    const env = signStatement(statement, k);
    const edited = {
      ...statement,
      subject: [{ name: 'dchat-1.0.0-linux-x64', digest: { sha256: 'f'.repeat(64) } }],
    };
    const r = run({ ...env, payload: Buffer.from(JSON.stringify(edited)).toString('base64') });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /UnverifiedSignatureError|signature/i);
  });
});
