/**
 * The embedded Helia node loads only what it uses (src/sources/ipfs/helia.ts): starting it on a
 * node's libp2p must not load helia's index graph (@helia/libp2p with libp2p's default stack:
 * kad-dht, WebRTC, autoTLS, UPnP, mDNS; @helia/http), about 40 MB resident under plain Node. A
 * load hook registered before anything of ours is imported lists every module this process loads.
 */
import assert from 'node:assert/strict';
import { registerHooks } from 'node:module';
import { test } from 'node:test';

const loaded: string[] = [];
registerHooks({
  load(url, context, nextLoad) {
    loaded.push(url);
    return nextLoad(url, context);
  },
});

test('Helia starts on the node libp2p without helia’s index graph, and still serves blocks', async (t) => {
  const [{ generateKeyPair }, { BanList }, { createNodeLibp2p }, { startHelia }, { importBytesKubo }] =
    await Promise.all([
      import('@libp2p/crypto/keys'),
      import('../../../src/gossip/libp2p/bans.ts'),
      import('../../../src/node/libp2p.ts'),
      import('../../../src/sources/ipfs/helia.ts'),
      import('../../../src/sources/ipfs/kubo-cid.ts'),
    ]);
  const libp2p = await createNodeLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bans: new BanList(),
  });
  t.after(() => libp2p.stop());
  const helia = await startHelia({ libp2p });
  t.after(() => helia.stop());
  assert.equal(helia.info.name, 'helia');
  assert.match(helia.info.version, /^\d+\.\d+\.\d+$/);
  // It works: blocks go into its blockstore, the pins API walks them.
  const cid = await importBytesKubo(Buffer.from('dchat'), { blockstore: helia.blockstore });
  assert.ok(await helia.blockstore.has(cid));
  for await (const _ of helia.pins.add(cid)) {
    // every block is local
  }
  assert.equal(await helia.pins.isPinned(cid), true);

  assert.ok(
    loaded.some((u) => u.includes('/node_modules/helia/dist/src/helia.js')),
    'the recorder saw no Helia class',
  );
  for (const heavy of [
    '/node_modules/helia/dist/src/index.js',
    '/node_modules/@helia/libp2p/',
    '/node_modules/@helia/http/',
    '/node_modules/@libp2p/kad-dht/',
    '/node_modules/@libp2p/webrtc/',
    '/node_modules/@ipshipyard/libp2p-auto-tls/',
  ])
    assert.deepEqual(
      loaded.filter((u) => u.includes(heavy)),
      [],
      `${heavy} was loaded`,
    );
});
