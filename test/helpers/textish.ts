/**
 * Compressible, patchable bytes for delta tests: words of a small vocabulary in a seeded order
 * (like a binary's strings), so two seeds share most of their substrings.
 */
export function textish(seed: number, size: number): Buffer {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'chunk', 'peer', 'mirror', 'root', 'signed', 'node'];
  let x = seed;
  const parts: string[] = [];
  let n = 0;
  while (n < size) {
    x = (x * 1103515245 + 12345) >>> 0;
    const w = `${words[x % words.length]}${x % 97} `;
    parts.push(w);
    n += w.length;
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}
