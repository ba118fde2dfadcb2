/**
 * Which targets a publish with `--keep-releases N` (release.toml `[targets] keep_releases`) leaves
 * out of the next targets document: the packages of each platform older than its newest N
 * versions, and every encoded target (compressed package, patch) made to or from one of them, as
 * apt's Packages index lists the current versions only.
 *
 * Why: the targets document lists every target it keeps, and every gossip announcement carries it
 * whole (model/announcement.ts), within one gossip message. A repository that keeps every release
 * outgrows that message after some tens of releases with patches and several platforms, and its
 * releases can no longer be announced by gossip (publish refuses that: see `announcedTargetsBytes`).
 * The files stay in the mirror directory; nodes already holding a left-out version keep running it
 * and can roll back to it (installed versions do not need their target).
 *
 * Pure: no I/O.
 */
import { isEncodedCustom } from '../model/encoded.ts';
import { LIMITS } from '../model/limits.ts';
import { parsePackageName } from '../model/platform.ts';
import { compareVersions } from '../model/version.ts';

/**
 * The largest targets document a publish may sign: its base64 (4/3 of it) has to fit in one gossip
 * announcement beside the timestamp, snapshot, up to 16 roots and the sources (96 KiB set aside
 * for those).
 */
export const announcedTargetsBytes = Math.floor(((LIMITS.gossipMessageBytes - 96 * 1024) * 3) / 4);

/**
 * The names of `targets` (path -> target with its custom) to leave out when keeping `keep` releases
 * per platform. `published` (the targets this publish adds) always stay: a fix published for an
 * older line (1.4.2 after 2.0.0) is not left out by the publish that makes it.
 */
export function targetsBeyond(
  targets: Readonly<Record<string, { custom?: unknown }>>,
  keep: number,
  published: ReadonlySet<string> = new Set(),
): string[] {
  const byPlatform = new Map<string, { name: string; version: string }[]>();
  for (const name of Object.keys(targets)) {
    const p = parsePackageName(name);
    if (!p || isEncodedCustom(targets[name]?.custom)) continue;
    const list = byPlatform.get(p.platform) ?? [];
    list.push({ name, version: p.version });
    byPlatform.set(p.platform, list);
  }
  const dropped = new Set<string>();
  for (const list of byPlatform.values()) {
    list.sort((a, b) => compareVersions(b.version, a.version));
    for (const old of list.slice(keep)) if (!published.has(old.name)) dropped.add(old.name);
  }
  // An encoded target goes with the package it decodes to, and a patch with its base too: a node
  // checks the base it holds against the base's signed target, which is gone.
  for (const [name, t] of Object.entries(targets)) {
    if (!isEncodedCustom(t.custom) || published.has(name)) continue;
    const c = t.custom as { to?: unknown; from?: unknown };
    if (
      (typeof c.to === 'string' && dropped.has(c.to)) ||
      (typeof c.from === 'string' && dropped.has(c.from))
    )
      dropped.add(name);
  }
  return [...dropped].sort();
}
