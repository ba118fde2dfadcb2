import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAllowedMirrorUrl, isLoopbackHost } from '../../src/model/loopback.ts';
import { normalizeMirrorUri } from '../../src/store/mirrors.ts';

test('plain http mirrors are accepted on loopback only', () => {
  for (const h of ['127.0.0.1', '127.8.9.10', 'localhost', '[::1]']) assert.ok(isLoopbackHost(h), h);
  for (const h of ['10.0.0.1', '128.0.0.1', 'example.org', '127.0.0.1.example.org', '::2'])
    assert.ok(!isLoopbackHost(h), h);
  assert.ok(isAllowedMirrorUrl(new URL('http://127.0.0.1:8480')));
  assert.ok(isAllowedMirrorUrl(new URL('https://mirror.example.org')));
  assert.ok(!isAllowedMirrorUrl(new URL('http://mirror.example.org')));
  assert.ok(!isAllowedMirrorUrl(new URL('ftp://127.0.0.1')));
  assert.equal(normalizeMirrorUri('HttpsMirror', 'http://127.0.0.1:8480/'), 'http://127.0.0.1:8480');
  assert.throws(() => normalizeMirrorUri('HttpsMirror', 'http://192.168.1.5/dchat'), /loopback/);
});
