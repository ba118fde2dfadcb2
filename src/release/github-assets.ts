/**
 * The asset set of one release for GitHub Releases (`release publish --github-assets DIR`): what a
 * maintainer uploads to the release so that the GitHub source (sources/github.ts) can serve both
 * the package and the TUF metadata that proves it:
 *   dchat-<v>-<platform>, .chunks                          the package, its chunk table (and its
 *                                                          .sig, .intoto.jsonl when present)
 *   delta targets of this publish, each with its .chunks   patches and the compressed package
 *   timestamp.json, N.snapshot.json, N.targets.json        the metadata current after this publish
 *   N.root.json (every version)                           the root chain, for clients far behind
 * Files are copied (never linked: an upload tool may rewrite them). Asset names are flat, as GitHub
 * requires; the source looks up metadata in the newest release that carries it.
 */
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { mirrorPaths } from './mirror-dir.ts';

/**
 * Copies the asset set of the targets `names` (the package first, then any delta targets published
 * with it) from mirror directory `dir` into `outDir`; returns the asset names.
 */
export async function writeGitHubAssets(
  dir: string,
  names: readonly string[],
  outDir: string,
): Promise<string[]> {
  const p = mirrorPaths(dir);
  await mkdir(outDir, { recursive: true });
  const meta = await readdir(p.metadataDir);
  const latest = (role: string) =>
    meta
      .map((f) => new RegExp(`^(\\d{1,12})\\.${role}\\.json$`).exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .sort((a, b) => Number(b[1]) - Number(a[1]))[0]?.[0];
  const out: string[] = [];
  const copy = async (from: string, asset: string) => {
    await copyFile(from, join(outDir, asset));
    out.push(asset);
  };
  const copyIfThere = (from: string, asset: string) =>
    copyFile(from, join(outDir, asset)).then(
      () => out.push(asset),
      () => {},
    );
  for (const name of names) {
    await copy(p.packageFile(name), name);
    await copy(p.chunkTable(name), `${name}.chunks`);
    await copyIfThere(p.sigFile(name), `${name}.sig`);
    await copyIfThere(p.attestations(name), `${name}.intoto.jsonl`);
  }
  await copy(p.meta('timestamp.json'), 'timestamp.json');
  for (const role of ['snapshot', 'targets']) {
    const f = latest(role);
    if (f) await copy(p.meta(f), f);
  }
  for (const f of meta.filter((f) => /^\d{1,12}\.root\.json$/.test(f)).sort()) await copy(p.meta(f), f);
  return out;
}
