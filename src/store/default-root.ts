import { readFile } from 'node:fs/promises';

/**
 * The root of the public dchat network, shipped inside the package (assets/default-root.json).
 * `dchat trust init` replaces it for a private network or testnet. Resolved relative to this
 * module so it works from src/ (type stripping) and dist/ alike.
 */
export const DEFAULT_ROOT_URL = new URL('../../assets/default-root.json', import.meta.url);

export async function loadDefaultRoot(): Promise<Uint8Array | undefined> {
  try {
    return await readFile(DEFAULT_ROOT_URL);
  } catch {
    return undefined;
  }
}
