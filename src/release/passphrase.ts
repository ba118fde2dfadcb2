/**
 * Where the passphrase of an encrypted key comes from, in this order: `--passphrase-file F` (its
 * first line, as `openssl -passin file:F` reads it), env DCHAT_KEY_PASSPHRASE (CI), else a prompt
 * on the controlling terminal with echo off (as ssh and gpg ask), only when stderr is a terminal
 * so that scripts and CI never hang waiting for input nobody will type.
 */
import { openSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { ReadStream, WriteStream } from 'node:tty';
import { DchatError, UsageError } from '../errors.ts';

export const PASSPHRASE_ENV = 'DCHAT_KEY_PASSPHRASE';
const MAX_PASSPHRASE_BYTES = 1024;

export interface PassphraseSource {
  /** `--passphrase-file` (already resolved against the command's cwd). */
  file?: string;
  env: NodeJS.ProcessEnv;
  /** Ask a human; undefined when there is nobody to ask. */
  prompt?: (question: string) => Promise<string>;
}

/** Resolves the passphrase for `what` (a key file name); E_PASSPHRASE when there is none. */
export async function passphraseFor(src: PassphraseSource, what: string): Promise<string> {
  if (src.file !== undefined) return readPassphraseFile(src.file);
  const fromEnv = src.env[PASSPHRASE_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (src.prompt) return src.prompt(`Passphrase for ${what}: `);
  throw new DchatError(
    'E_PASSPHRASE',
    `${what} is encrypted: give --passphrase-file FILE or set ${PASSPHRASE_ENV} (no terminal to ask on)`,
    { details: { key: what, reason: 'missing' } },
  );
}

async function readPassphraseFile(path: string): Promise<string> {
  let text: string;
  try {
    const fh = await open(path, 'r');
    try {
      const buf = Buffer.alloc(MAX_PASSPHRASE_BYTES + 1);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      text = buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await fh.close();
    }
  } catch (cause) {
    throw new UsageError('--passphrase-file', `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  const line = text.split('\n')[0]?.replace(/\r$/, '') ?? '';
  if (line.length > MAX_PASSPHRASE_BYTES)
    throw new UsageError(
      '--passphrase-file',
      `${path}: first line longer than ${MAX_PASSPHRASE_BYTES} bytes`,
    );
  if (line === '') throw new UsageError('--passphrase-file', `${path}: first line is empty`);
  return line;
}

/**
 * A prompt on /dev/tty with echo off; undefined when stderr is not a terminal (scripts, CI). The
 * terminal is opened only when a passphrase is actually needed. An empty line aborts.
 */
export function terminalPrompt(stderrIsTty: boolean | undefined): PassphraseSource['prompt'] {
  if (stderrIsTty !== true) return undefined;
  return (question) => askOnTerminal(question);
}

function askOnTerminal(question: string): Promise<string> {
  let fd: number;
  try {
    fd = openSync('/dev/tty', 'r+');
  } catch (cause) {
    return Promise.reject(
      new DchatError(
        'E_PASSPHRASE',
        `no terminal to ask for the passphrase on: give --passphrase-file or ${PASSPHRASE_ENV}`,
        {
          cause,
          details: { reason: 'missing' },
        },
      ),
    );
  }
  return new Promise<string>((resolve, reject) => {
    const input = new ReadStream(fd);
    const output = new WriteStream(fd);
    // Echo off before the question appears: an answer typed right after it is never shown.
    input.setRawMode(true);
    output.write(question);
    let answer = '';
    const done = (err?: Error) => {
      input.setRawMode(false);
      input.removeAllListeners('data');
      output.write('\n');
      input.destroy();
      if (err) reject(err);
      else resolve(answer);
    };
    input.on('data', (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          if (answer === '')
            return done(
              new DchatError('E_PASSPHRASE', 'no passphrase entered', { details: { reason: 'missing' } }),
            );
          return done();
        }
        if (ch === '\u0003' || ch === '\u0004')
          return done(
            new DchatError('E_PASSPHRASE', 'passphrase prompt cancelled', { details: { reason: 'missing' } }),
          );
        if (ch === '\u007f' || ch === '\b') answer = answer.slice(0, -1);
        else if (answer.length < MAX_PASSPHRASE_BYTES) answer += ch;
      }
    });
  });
}
