/**
 * A path gateway for tests (`GET /ipfs/<cid>`, with Range), as Kubo's gateway answers it for UnixFS
 * files, backed by a real Helia node: the files given are imported with Kubo's options into its
 * blockstore and every body is read back through the UnixFS exporter by CID. `tamper` makes it a
 * lying gateway: every body it sends has its bytes flipped. Plain HTTP on 127.0.0.1 (loopback
 * gateways are allowed http://, model/loopback.ts).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { unixfs } from '@helia/unixfs';
import { MemoryBlockstore } from 'blockstore-core';
import { createHeliaLight } from 'helia';
import { CID } from 'multiformats/cid';
import { importFileKubo } from '../../src/sources/ipfs/kubo-cid.ts';

export interface TestGateway {
  /** Base URL, e.g. http://127.0.0.1:PORT (append /ipfs/<cid>). */
  url: string;
  /** CIDs (v0) of the files given, in order. */
  cids: string[];
  /** Body bytes sent, all requests together. */
  sent: number;
  stop(): Promise<void>;
}

export async function startTestGateway(
  files: readonly string[],
  o: { tamper?: boolean } = {},
): Promise<TestGateway> {
  const blockstore = new MemoryBlockstore();
  const helia = createHeliaLight({ blockstore });
  await helia.start();
  const fs = unixfs(helia);
  const cids: string[] = [];
  for (const f of files) cids.push((await importFileKubo(f, { blockstore })).toString());
  const gw: TestGateway = { url: '', cids, sent: 0, stop: async () => {} };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const m = /^\/ipfs\/([A-Za-z0-9]+)$/.exec(req.url ?? '');
      let cid: CID;
      try {
        if (!m) throw new Error('not /ipfs/<cid>');
        cid = CID.parse(m[1] as string);
      } catch {
        res.writeHead(400).end();
        return;
      }
      let size: number;
      try {
        size = Number((await fs.stat(cid, { offline: true })).size);
      } catch {
        res.writeHead(404).end();
        return;
      }
      const r = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
      let start = 0;
      let end = size;
      if (r) {
        start = Number(r[1]);
        end = r[2] ? Math.min(size, Number(r[2]) + 1) : size;
        if (start >= size || end <= start) {
          res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
          return;
        }
        res.writeHead(206, {
          'content-length': end - start,
          'content-range': `bytes ${start}-${end - 1}/${size}`,
          'accept-ranges': 'bytes',
        });
      } else res.writeHead(200, { 'content-length': size, 'accept-ranges': 'bytes' });
      for await (const piece of fs.cat(cid, { offset: start, length: end - start, offline: true })) {
        const out = o.tamper ? Buffer.from(piece).map((b) => b ^ 0x5a) : piece;
        gw.sent += out.byteLength;
        if (!res.write(out)) await new Promise((done) => res.once('drain', done));
      }
      res.end();
    })().catch(() => res.destroy());
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  gw.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  gw.stop = async () => {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
    await helia.stop();
  };
  return gw;
}
