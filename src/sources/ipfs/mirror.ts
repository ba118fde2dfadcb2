/**
 * An `ipfs` mirror record (mirrors.toml, `update add-mirror --mirror-type ipfs`) as a Source: an
 * HTTP path gateway URL (`https://GATEWAY/ipfs/CID`) is fetched over HTTPS; `ipfs://CID` over
 * bitswap through the node's embedded IPFS node, so it needs a running node (`dchat node start`;
 * `update download --source ipfs` asks it).
 */
import { DchatError } from '../../errors.ts';
import type { MirrorRecord } from '../../store/mirrors.ts';
import type { Source } from '../source.ts';
import { IpfsGatewaySource, isGatewayUrl } from './gateway-source.ts';
import type { EmbeddedHelia } from './helia.ts';
import { IpfsSource } from './ipfs-source.ts';

/** `ipfs://CID` (also `ipfs://CID/`), or undefined for any other spelling. */
export function cidOfIpfsUrl(uri: string): string | undefined {
  const m = /^ipfs:\/\/([A-Za-z0-9]{2,512})\/?$/.exec(uri.trim());
  return m?.[1];
}

export function ipfsMirrorSource(
  r: Pick<MirrorRecord, 'id' | 'uri'>,
  ca: string | undefined,
  helia: (() => Promise<EmbeddedHelia>) | undefined,
  env?: NodeJS.ProcessEnv,
): Source {
  if (isGatewayUrl(r.uri))
    return new IpfsGatewaySource({ id: r.id, url: r.uri, ...(ca ? { ca } : {}), ...(env ? { env } : {}) });
  if (r.uri.startsWith('ipns://'))
    throw new DchatError('E_UNSUPPORTED', 'ipns:// names are not resolved by this build (use ipfs://CID)');
  const cid = cidOfIpfsUrl(r.uri);
  if (cid === undefined)
    throw new DchatError(
      'E_CONFIG',
      `ipfs mirror '${r.uri.slice(0, 120)}' is neither ipfs://CID nor a gateway URL .../ipfs/CID`,
    );
  if (!helia)
    throw new DchatError(
      'E_NO_SOURCE',
      `${r.uri} is fetched over bitswap by a running node (dchat node start), not by this process`,
    );
  return new IpfsSource({ id: r.id, uri: r.uri, cid, helia });
}
