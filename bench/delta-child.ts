/**
 * One step of `npm run bench -- delta`, in its own process so its peak memory is its own (the
 * parent runs it under /usr/bin/time): `make OLD NEW OUT` runs dchat's differs as `release
 * publish --delta-from` does (release/delta.ts) and keeps the smallest; `apply ALGO OLD PATCH OUT
 * SIZE` decodes as `update download` does (download/decode.ts). Prints one JSON line.
 */
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { decodeToFile } from '../src/download/decode.ts';
import type { Encoding } from '../src/model/encoded.ts';
import { bsdiffFor, zstdPatchFrom } from '../src/release/delta.ts';

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'make') {
  const [oldPath, newPath, out] = args as [string, string, string];
  const tmp = mkdtempSync(join(tmpdir(), 'dchat-bench-delta-'));
  try {
    const t0 = performance.now();
    const newBytes = readFileSync(newPath);
    // As bestPatch does: zstd and the bsdiff kind for the pair (bsdiff-x86 for two x86-64 ELF
    // files) at once, the smaller kept.
    const { kind: bsdiffKind, make: bsdiffMake } = await bsdiffFor(oldPath, newBytes);
    let t1 = 0;
    let t2 = 0;
    const [zpf, bsdz] = await Promise.all([
      zstdPatchFrom(oldPath, newPath, tmp).finally(() => {
        t1 = performance.now();
      }),
      bsdiffMake(oldPath, newPath, tmp, newBytes.length).finally(() => {
        t2 = performance.now();
      }),
    ]);
    const best: { algorithm: Encoding; bytes: Buffer } =
      bsdz.length < zpf.length
        ? { algorithm: bsdiffKind, bytes: bsdz }
        : { algorithm: 'zstd-patch-from', bytes: zpf };
    writeFileSync(`${out}.tmp`, best.bytes);
    renameSync(`${out}.tmp`, out);
    console.log(
      JSON.stringify({
        algorithm: best.algorithm,
        size: best.bytes.length,
        zstd_patch_from: zpf.length,
        bsdiff: bsdz.length,
        bsdiff_kind: bsdiffKind,
        zstd_ms: Math.round(t1 - t0),
        bsdiff_ms: Math.round(t2 - t0),
        ms: Math.round(Math.max(t1, t2) - t0),
      }),
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
} else if (cmd === 'apply') {
  const [algorithm, oldPath, patch, out, size] = args as [Encoding, string, string, string, string];
  // This process has just loaded its modules, and V8 collects that garbage in the next tens of
  // milliseconds: 9 ms of a 45 ms apply. A node applies a patch long after its start, with none
  // pending; collected here first (the parent runs this with --expose-gc). Then a pause: the
  // collection's sweeping, and the optimizing compiles of Node's TypeScript stripper (this file
  // and src/ run as .ts: 10-15 ms of background CPU), end before the apply, not inside it.
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  await delay(200);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await decodeToFile({ algorithm, base: oldPath, encoded: patch, out, maxBytes: Number(size) });
  const c = process.cpuUsage(c0);
  // CPU time of this process (the decoder runs in it and libuv's pool): what it costs without
  // the other tenants of a shared machine; wall time beside it.
  console.log(JSON.stringify({ ms: performance.now() - t0, cpu_ms: (c.user + c.system) / 1000 }));
} else {
  console.error('usage: delta-child.ts make OLD NEW OUT | apply ALGO OLD PATCH OUT SIZE');
  process.exit(2);
}
