/**
 * Writes mirrors.toml after an edit while keeping what its owner wrote around the entries:
 * comments, blank lines, the order of untouched entries, even their formatting. The file is cut
 * into blocks (the preamble, `[settings]`, each `[[mirror]]`; a comment just above a header
 * belongs to that header's block); an unchanged block is copied verbatim, a changed one keeps its
 * own comment lines and gets fresh key lines, a removed one goes, a new one is appended. When the
 * file is not in that simple shape (inline tables, other headers) or the edited text would not
 * parse back to the intended configuration, the whole file is regenerated, keeping the preamble.
 */
import { isDeepStrictEqual } from 'node:util';
import { stringify } from 'smol-toml';
import type { MirrorRecord, MirrorSettings } from './mirrors.ts';

export interface TomlConfig {
  settings: MirrorSettings;
  mirrors: MirrorRecord[];
}

interface Block {
  kind: 'preamble' | 'settings' | 'mirror';
  lines: string[];
}

const MIRROR_HEADER = /^\s*\[\[\s*mirror\s*\]\]\s*(#.*)?$/;
const SETTINGS_HEADER = /^\s*\[\s*settings\s*\]\s*(#.*)?$/;
const ANY_HEADER = /^\s*\[/;
const COMMENT_OR_BLANK = /^\s*(#.*)?$/;

const OLD_HEADER = /^# dchat download sources .*\n# .*and by every download \(last_success[^\n]*\s*$/;

export const FILE_HEADER =
  '# dchat download sources (seed DownloadSource records). Edited by `dchat update add-mirror`\n' +
  '# and `remove-mirror`; your comments are kept. What downloads measure is kept apart, in\n' +
  '# state/mirror-health.json.\n';

/**
 * The text of mirrors.toml holding `next`, edited from `old` (its current text, parsed as
 * `oldCfg`) when given. `parse` is the file's own parser, used to check the result.
 */
export function renderMirrorsToml(
  next: TomlConfig,
  old: { text: string; cfg: TomlConfig } | undefined,
  parse: (text: string) => TomlConfig,
): string {
  const fresh = (preamble: string) => `${preamble}\n${fullBody(next)}`;
  if (!old) return fresh(FILE_HEADER);
  const blocks = splitBlocks(old.text);
  let preamble = blocks?.find((b) => b.kind === 'preamble')?.lines.join('\n') ?? '';
  // The header older versions wrote says downloads edit the file: no longer true.
  if (OLD_HEADER.test(preamble)) preamble = FILE_HEADER;
  const fallback = () => fresh(preamble.trim() === '' ? FILE_HEADER : `${preamble.replace(/\n+$/, '')}\n`);
  if (!blocks) return fallback();
  blocks[0]!.lines = preamble.replace(/\n+$/, '').split('\n');
  const mirrorBlocks = blocks.filter((b) => b.kind === 'mirror');
  if (mirrorBlocks.length !== old.cfg.mirrors.length) return fallback();

  const out: string[] = [];
  const push = (lines: string[]) => out.push(lines.join('\n').replace(/\n+$/, ''));
  if (preamble.trim() !== '') push(blocks[0]!.lines);
  const settingsBlock = blocks.find((b) => b.kind === 'settings');
  if (settingsBlock) {
    push(
      isDeepStrictEqual(clean(old.cfg.settings), clean(next.settings))
        ? settingsBlock.lines
        : [...leadingComments(settingsBlock), ...tableLines('settings', next.settings)],
    );
  } else if (!isDeepStrictEqual(clean(old.cfg.settings), clean(next.settings))) {
    push(tableLines('settings', next.settings));
  }
  const oldById = new Map(old.cfg.mirrors.map((m, i) => [m.id, { m, block: mirrorBlocks[i]! }]));
  for (const m of next.mirrors) {
    const before = oldById.get(m.id);
    if (before && isDeepStrictEqual(clean(configOf(before.m)), clean(configOf(m)))) push(before.block.lines);
    else push([...(before ? leadingComments(before.block) : []), ...mirrorLines(m)]);
  }
  const text = `${out.join('\n\n')}\n`;
  try {
    const back = parse(text);
    const same =
      isDeepStrictEqual(clean(back.settings), clean(next.settings)) &&
      isDeepStrictEqual(
        back.mirrors.map((x) => clean(configOf(x))),
        next.mirrors.map((x) => clean(configOf(x))),
      );
    return same ? text : fallback();
  } catch {
    return fallback();
  }
}

/** A record without what downloads measure (that lives in the health state file). */
export function configOf(m: MirrorRecord): MirrorRecord {
  const { last_success: _s, latency_ms: _l, throughput_bps: _t, ...config } = m;
  return { ...config, failure_count: 0 };
}

function fullBody(cfg: TomlConfig): string {
  return `${stringify({ settings: clean(cfg.settings), mirror: cfg.mirrors.map((m) => mirrorFields(m)) })}\n`;
}

function tableLines(name: string, value: object): string[] {
  return stringify({ [name]: clean(value as Record<string, unknown>) })
    .replace(/\n+$/, '')
    .split('\n');
}

function mirrorLines(m: MirrorRecord): string[] {
  return stringify({ mirror: [mirrorFields(m)] })
    .replace(/\n+$/, '')
    .split('\n');
}

/** The fields written for a mirror: its configuration (failure_count is state, not written). */
function mirrorFields(m: MirrorRecord): Record<string, unknown> {
  const { failure_count: _f, ...rest } = configOf(m);
  return clean(rest);
}

function clean(o: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** The comment and blank lines a block starts with (they stay when its keys are rewritten). */
function leadingComments(b: Block): string[] {
  const header = b.lines.findIndex((l) => ANY_HEADER.test(l));
  return header > 0 ? b.lines.slice(0, header) : [];
}

/** Blocks of the file, or undefined when it has a header other than [settings] and [[mirror]]. */
function splitBlocks(text: string): Block[] | undefined {
  const blocks: Block[] = [{ kind: 'preamble', lines: [] }];
  for (const line of text.replace(/\r\n/g, '\n').replace(/\n+$/, '').split('\n')) {
    const kind = MIRROR_HEADER.test(line) ? 'mirror' : SETTINGS_HEADER.test(line) ? 'settings' : undefined;
    if (!kind && ANY_HEADER.test(line)) return undefined;
    if (!kind) {
      blocks.at(-1)!.lines.push(line);
      continue;
    }
    // The comment lines just above the header (after the last blank line) move with it.
    const prev = blocks.at(-1)!;
    let cut = prev.lines.length;
    while (cut > 0 && COMMENT_OR_BLANK.test(prev.lines[cut - 1]!) && prev.lines[cut - 1]!.trim() !== '')
      cut--;
    const carried = prev.lines.splice(cut);
    while (prev.lines.length > 0 && prev.lines.at(-1)!.trim() === '') prev.lines.pop();
    blocks.push({ kind, lines: [...carried, line] });
  }
  return blocks;
}
