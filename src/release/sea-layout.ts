/**
 * What is inside a dchat single executable, so that a rebuild that differs from a published
 * package can name the first file that differs (`release verify-build`) instead of "the hashes
 * differ". The executable is the pinned Node binary plus one ELF note, NODE_SEA_BLOB, that
 * postject added (build.ts); the blob holds the main bundle (`dchat.cjs`, esbuild output whose
 * `// src/...` comments mark where each source module starts) and the assets by name.
 *
 * Node's blob layout (src/node_sea.cc) is: magic, flags, then strings each prefixed by a 64-bit
 * little-endian length: the main file name, its code, then an asset count and name/content pairs.
 * Fields between them vary with Node's minor version, so the parts are found by their framing
 * (a length followed by the expected name) rather than at fixed offsets. Works on bytes only.
 */
import { createHash } from 'node:crypto';

/** The blob's first four bytes (node_sea.cc kMagic), little-endian. */
const SEA_MAGIC = 0x0143da20;
const NOTE_NAME = 'NODE_SEA_BLOB';
/** ELF program header type of a note segment. */
const PT_NOTE = 4;
export const SEA_MAIN = 'dchat.cjs';
/** The part of the executable outside the blob: the Node runtime the package was built on. */
export const RUNTIME_PART = 'node runtime (outside the SEA blob)';

export interface PackagePart {
  /** `node runtime ...`, `dchat.cjs`, `dchat.cjs: src/<module>.ts`, or an asset's name. */
  name: string;
  sha256: string;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The NODE_SEA_BLOB note's content, by walking the note segments of a 64-bit little-endian ELF. */
export function findSeaBlob(exe: Buffer): { start: number; end: number } | undefined {
  if (exe.length < 64 || exe.readUInt32BE(0) !== 0x7f454c46 || exe[4] !== 2 || exe[5] !== 1) return undefined;
  const phoff = Number(exe.readBigUInt64LE(32));
  const phentsize = exe.readUInt16LE(54);
  const phnum = exe.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (ph + 56 > exe.length || exe.readUInt32LE(ph) !== PT_NOTE) continue;
    const off = Number(exe.readBigUInt64LE(ph + 8));
    const end = Math.min(exe.length, off + Number(exe.readBigUInt64LE(ph + 32)));
    for (let p = off; p + 12 <= end; ) {
      const namesz = exe.readUInt32LE(p);
      const descsz = exe.readUInt32LE(p + 4);
      const desc = p + 12 + align4(namesz);
      if (desc + descsz > end) break;
      const name = exe.subarray(p + 12, p + 12 + Math.max(0, namesz - 1)).toString('latin1');
      if (name === NOTE_NAME && descsz >= 8 && exe.readUInt32LE(desc) === SEA_MAGIC)
        return { start: desc, end: desc + descsz };
      p = desc + align4(descsz);
    }
  }
  return undefined;
}

const align4 = (n: number) => (n + 3) & ~3;

/** A length-prefixed string `name` in the blob, and the length-prefixed value right after it. */
function framedValue(blob: Buffer, name: string, from = 0): { value: Buffer; end: number } | undefined {
  const key = Buffer.alloc(8 + Buffer.byteLength(name));
  key.writeBigUInt64LE(BigInt(Buffer.byteLength(name)));
  key.write(name, 8, 'utf8');
  const at = blob.indexOf(key, from);
  if (at < 0) return undefined;
  const lenAt = at + key.length;
  if (lenAt + 8 > blob.length) return undefined;
  const len = blob.readBigUInt64LE(lenAt);
  if (len > BigInt(blob.length - lenAt - 8)) return undefined;
  const value = blob.subarray(lenAt + 8, lenAt + 8 + Number(len));
  return { value, end: lenAt + 8 + value.length };
}

/**
 * The parts of a dchat executable in a fixed order (runtime, main bundle by source module, then
 * assets sorted by name), each with its hash. `assetNames` are those the build embeds (the
 * rebuild's manifest); a part missing from `exe` is reported with the hash `missing`.
 */
export function packageParts(exe: Buffer, assetNames: readonly string[]): PackagePart[] {
  const blob = findSeaBlob(exe);
  if (!blob) return [{ name: 'the whole file (not a dchat single executable)', sha256: sha256(exe) }];
  const parts: PackagePart[] = [
    {
      name: RUNTIME_PART,
      sha256: createHash('sha256')
        .update(exe.subarray(0, blob.start))
        .update(exe.subarray(blob.end))
        .digest('hex'),
    },
  ];
  const b = exe.subarray(blob.start, blob.end);
  const main = framedValue(b, SEA_MAIN);
  if (!main) parts.push({ name: SEA_MAIN, sha256: 'missing' });
  else {
    for (const [mod, text] of bundleModules(main.value.toString('utf8')))
      parts.push({ name: `${SEA_MAIN}: ${mod}`, sha256: sha256(Buffer.from(text)) });
  }
  for (const name of [...assetNames].sort()) {
    const a = framedValue(b, name, main?.end ?? 0);
    parts.push({ name, sha256: a ? sha256(a.value) : 'missing' });
  }
  return parts;
}

/**
 * The main bundle cut at esbuild's `// src/...` (or `// node_modules/...`) module comments; the
 * text before the first comment is the bundle's prelude. Repeated names get a counter.
 */
export function bundleModules(code: string): Map<string, string> {
  const out = new Map<string, string>();
  const marker = /^\/\/ ((?:src|node_modules)\/[^\n]+)$/gm;
  let name = '(bundle prelude)';
  let from = 0;
  const put = (n: string, text: string) => {
    let key = n;
    for (let i = 2; out.has(key); i++) key = `${n} #${i}`;
    out.set(key, text);
  };
  for (const m of code.matchAll(marker)) {
    put(name, code.slice(from, m.index));
    name = m[1] as string;
    from = m.index;
  }
  put(name, code.slice(from));
  return out;
}

/** The first part whose hash differs between a published package and its rebuild, if any. */
export function firstDifference(published: PackagePart[], rebuilt: PackagePart[]): string | undefined {
  const pub = new Map(published.map((p) => [p.name, p.sha256]));
  for (const r of rebuilt) if (pub.get(r.name) !== r.sha256) return r.name;
  const re = new Set(rebuilt.map((p) => p.name));
  return published.find((p) => !re.has(p.name))?.name;
}
