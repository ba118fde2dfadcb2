import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { ephemeralStart, freePort } from '../../src/testnet/free-port.ts';

test('freePort: distinct bindable ports below the ephemeral range, where listen(0) never lands', async () => {
  const top = ephemeralStart();
  const ports = await Promise.all(Array.from({ length: 8 }, () => freePort()));
  for (const p of ports) {
    assert.ok(p >= 10_000 && p < top, `${p} below ${top}`);
    await new Promise<void>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(p, '127.0.0.1', () => s.close(() => resolve()));
    });
  }
  assert.ok(new Set(ports).size >= 7, 'random picks rarely meet');
});

test('freePort: a port somebody holds is never returned', async () => {
  // Hold many low ports; every port returned must be one we do not hold.
  const held = new Set<number>();
  const servers = [];
  for (let i = 0; i < 50; i++) {
    const p = await freePort();
    const s = createServer();
    // A port already held (by us or anyone) fails here with EADDRINUSE.
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(p, '127.0.0.1', () => resolve());
    });
    held.add(p);
    servers.push(s);
  }
  assert.equal(held.size, 50);
  for (const s of servers) await new Promise((r) => s.close(r));
});
