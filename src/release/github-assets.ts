/**
 * The asset set of one release for GitHub Releases (`release publish --github-assets DIR`): what a
 * maintainer uploads to the release so that the GitHub source (sources/github.ts) can serve both
 * the package and the TUF metadata that proves it:
 *   dchat-<v>-<platform>, .chunks (and .sig when signed)   the package, its chunk table
 *   timestamp.json, N.snapshot.json, N.targets.json        the metadata current after this publish
 *   N.root.json (every version)                           the root chain, for clients far behind
 * Files are copied (never linked: an upload tool may rewrite them). Asset names are flat, as GitHub
 * requires; the source looks up metadata in the newest release that carries it.
 */
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { mirrorPaths } from './mirror-dir.ts';

/** Copies the asset set of package `name` from mirror directory `dir` into `outDir`; returns the names. */
export async function writeGitHubAssets(dir: string, name: string, outDir: string): Promise<string[]> {
  const p = mirrorPaths(dir);
  await mkdir(outDir, { recursive: true });
  const meta = await readdir(p.metadataDir);
  const latest = (role: string) =>
    meta
      .map((f) => new RegExp(`^(\\d{1,12})\\.${role}\\.json$`).exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .sort((a, b) => Number(b[1]) - Number(a[1]))[0]?.[0];
  const names: string[] = [];
  const copy = async (from: string, asset: string) => {
    await copyFile(from, join(outDir, asset));
    names.push(asset);
  };
  await copy(p.packageFile(name), name);
  await copy(p.chunkTable(name), `${name}.chunks`);
  await copyFile(p.sigFile(name), join(outDir, `${name}.sig`)).then(
    () => names.push(`${name}.sig`),
    () => {},
  );
  await copy(p.meta('timestamp.json'), 'timestamp.json');
  for (const role of ['snapshot', 'targets']) {
    const f = latest(role);
    if (f) await copy(p.meta(f), f);
  }
  for (const f of meta.filter((f) => /^\d{1,12}\.root\.json$/.test(f)).sort()) await copy(p.meta(f), f);
  return names;
}
