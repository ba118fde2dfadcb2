import type { Command } from 'commander';
import type { CliContext } from './context.ts';
import { lazy, newProgram } from './program.ts';

/**
 * `dchat-sign`: the seed's signing tool. `dchat-sign keygen --out K` makes a key pair;
 * `dchat-sign --key K --input FILE --output FILE.sig` signs the statement binding the file's name,
 * version, platform, size and both hashes.
 */
export function buildDchatSign(ctx: CliContext): Command {
  const program = newProgram('dchat-sign', 'sign dchat release packages with an Ed25519 release key', ctx)
    .option('--key <file>', 'private key (PEM) to sign with')
    .option('--allow-insecure-key-permissions', 'use a key file that group or others may read')
    .option('--input <file>', 'package file to sign')
    .option('--output <file>', 'where to write the signature (.sig)')
    .option('--version <v>', 'release version (default: parsed from the file name)')
    .option('--platform <p>', 'platform (default: parsed from the file name)')
    .option(
      '--passphrase-file <file>',
      'passphrase of an encrypted key: first line of FILE (else env DCHAT_KEY_PASSPHRASE, else a prompt)',
    )
    .action(lazy(ctx, async () => (await import('./commands/sign-impl.ts')).sign));
  program
    .command('keygen')
    .description('write a new Ed25519 key pair: FILE (private, mode 0600) and FILE.pub')
    .requiredOption('--out <file>', 'private key path')
    .option('--force', 'overwrite an existing key file')
    .option(
      '--encrypt',
      'encrypt the private key with a passphrase (PKCS#8, scrypt + AES-256; openssl reads it)',
    )
    .option(
      '--passphrase-file <file>',
      'with --encrypt: the passphrase is the first line of FILE (else env DCHAT_KEY_PASSPHRASE, else a prompt)',
    )
    .action(lazy(ctx, async () => (await import('./commands/sign-impl.ts')).keygen));
  program
    .command('genesis')
    .description('sign a network genesis (token holders, validators, governance parameters) with root keys')
    .requiredOption(
      '--spec <file>',
      'JSON: network_id, holders [{public_key, weight}], validators [{key_id, public_key, stake}], params',
    )
    .requiredOption(
      '--root-key <file>',
      'root (founder) private key; repeatable',
      (v: string, p: string[] = []) => [...p, v],
      [],
    )
    .option('--root-threshold <n>', 'root signatures a later genesis needs (default: all root keys)')
    .requiredOption('--out <file>', 'where to write genesis.json')
    .option('--passphrase-file <file>', 'passphrase of encrypted root keys')
    .option('--allow-insecure-key-permissions', 'use key files that group or others may read')
    .action(lazy(ctx, async () => (await import('./commands/genesis-impl.ts')).genesis));
  return program;
}
