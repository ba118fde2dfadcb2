import { DchatError, EXIT_OK, toDchatError } from '../errors.ts';
import type { CliContext } from './context.ts';

/**
 * Renders one command's results: human lines (emoji as in the seeds) or, with --json, exactly one
 * JSON document on stdout (or NDJSON records for streams). Errors: one `error[CODE]: message` line
 * on stderr, plus `{"error":{...}}` as the JSON document with --json.
 */
export class Output {
  readonly json: boolean;
  private readonly ctx: CliContext;
  private emitted = false;

  constructor(ctx: CliContext, json: boolean) {
    this.ctx = ctx;
    this.json = json;
  }

  /** A human line on stdout; silent in --json mode (stdout then holds only the document). */
  line(text = ''): void {
    if (!this.json) this.ctx.stdout.write(`${text}\n`);
  }

  /** A note for humans that must never pollute stdout (summaries under --json, hints). */
  note(text: string): void {
    this.ctx.stderr.write(`${text}\n`);
  }

  /** The command's JSON document (--json only). Call once. */
  result(doc: unknown): void {
    if (!this.json) return;
    this.emitted = true;
    this.ctx.stdout.write(`${JSON.stringify(doc)}\n`);
  }

  /** One NDJSON record of a stream (progress, events); --json only. */
  record(doc: unknown): void {
    if (this.json) this.ctx.stdout.write(`${JSON.stringify(doc)}\n`);
  }

  /** True when a live progress bar makes sense: a TTY on stderr, no --json, no NO_COLOR=dumb terminal. */
  get interactive(): boolean {
    return !this.json && this.ctx.stderr.isTTY === true && this.ctx.env.TERM !== 'dumb';
  }

  get color(): boolean {
    return this.interactive && this.ctx.env.NO_COLOR === undefined;
  }

  error(err: unknown): number {
    const e = toDchatError(err);
    // One line per error, whatever the message echoes: a newline in user input must not forge a
    // second `error[...]` line, nor an ESC sequence drive the operator's terminal.
    this.ctx.stderr.write(`error[${e.code}]: ${escapeControl(e.message)}\n`);
    if (this.json && !this.emitted) {
      this.emitted = true;
      this.ctx.stdout.write(`${JSON.stringify({ error: e.toJSON() })}\n`);
    }
    if (e.code === 'E_INTERNAL' && this.ctx.env.DCHAT_DEBUG)
      this.ctx.stderr.write(`${(err as Error).stack}\n`);
    return e.exitCode;
  }
}

/**
 * `text` with every C0/C1 control character (newline, CR, ESC, DEL, U+0080-U+009F) and the Unicode
 * line/paragraph separators written as a visible escape (\n, \r, \t, \xNN, \uNNNN).
 */
export function escapeControl(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    const n = c.charCodeAt(0);
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
  });
}

/**
 * Runs a command body and turns its outcome into an exit code: its return value (default 0), or
 * the exit code of the DchatError it threw. Unknown exceptions become E_INTERNAL, not stack traces.
 */
export async function runBody(out: Output, body: () => Promise<number | undefined | void>): Promise<number> {
  try {
    const code = await body();
    return typeof code === 'number' ? code : EXIT_OK;
  } catch (err) {
    return out.error(err instanceof DchatError ? err : toDchatError(err));
  }
}
