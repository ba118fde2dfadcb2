/**
 * Transfer rates, in one unit convention everywhere (flags, mirrors.toml, the progress bar, docs):
 * binary units as curl and wget read `--limit-rate`: K = KiB = 1024 bytes, M = MiB, G = GiB, and
 * rates are shown as KiB/s, MiB/s, GiB/s. So `--limit-rate 24M` is shown as 24.0 MiB/s.
 */

const MULT: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/**
 * "500K", "24M", "24MiB", "24MiB/s", "1.5G" or plain bytes/s, to bytes/s; undefined when it is not
 * a rate. "B" and "iB" after the unit are accepted (they say the same thing here).
 */
export function parseRate(value: string): number | undefined {
  if (value.length > 32) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)(?:i?[bB])?(?:\/s)?\s*$/.exec(value);
  if (!m) return undefined;
  const n = Math.floor(Number(m[1]) * (MULT[(m[2] ?? '').toLowerCase()] ?? 1));
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Bytes in binary units: "812 B", "3.4 KiB", "24.0 MiB", "1.2 GiB". */
export function formatBinary(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Math.max(0, bytes);
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** A rate in the same units: "24.0 MiB/s". */
export function formatRate(bps: number): string {
  return `${formatBinary(bps)}/s`;
}

/** Seconds left at `bps` for `remaining` bytes, as "m:ss" or "h:mm:ss"; "--:--" when unknown. */
export function formatEta(remaining: number, bps: number): string {
  if (!(bps > 0) || !Number.isFinite(remaining) || remaining < 0) return '--:--';
  const s = Math.ceil(remaining / bps);
  if (s >= 100 * 3600) return '--:--';
  const h = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}
