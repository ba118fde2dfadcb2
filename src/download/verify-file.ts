import { stat } from 'node:fs/promises';
import type { Digests } from '../crypto/hash.ts';
import { DchatError } from '../errors.ts';
import type { PackageTarget } from '../model/package.ts';
import { type FileDigestRun, startFileDigest } from '../store/file-digest.ts';
import { checkPackage, findPackage, listPackages, type PackageVerdict } from '../trust/package-check.ts';
import type { TrustedSet } from '../trust/trusted-set.ts';

export interface FileVerification {
  verdict: PackageVerdict;
  digests: Digests;
}

/**
 * Hashes a file on disk and decides against the trusted target for (version, platform). Reads no
 * more than the largest trusted package: a longer file fails E_TOO_LARGE (before it is read, or,
 * when the caller started hashing before the metadata was in (`started`), as soon as it is).
 */
export async function verifyFile(
  trusted: TrustedSet,
  path: string,
  version: string,
  platform: string,
  started?: FileDigestRun,
): Promise<FileVerification> {
  try {
    const targets = trusted.requireTargets();
    const target: PackageTarget = findPackage(targets, version, platform);
    const all = listPackages(targets);
    const st = await stat(path).catch((cause: NodeJS.ErrnoException) => {
      throw new DchatError(
        cause.code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_IO',
        `cannot read ${path}: ${cause.message}`,
        { cause },
      );
    });
    const largest = Math.max(target.length, ...all.map((t) => t.length));
    if (st.size > largest) {
      throw new DchatError(
        'E_TOO_LARGE',
        `${path} is ${st.size} bytes, more than the ${target.length} signed for ${target.path}`,
      );
    }
    const run = started ?? startFileDigest(path, { maxBytes: largest });
    run.limit(largest);
    const digests = await run.result;
    return { verdict: checkPackage(target, digests, trusted.root.signed, all), digests };
  } finally {
    started?.stop();
  }
}
