/**
 * Where a node learns the network's current block height (activation is by height, so every
 * node must agree on it). The embedded default is validator-signed height beacons; an adapter
 * can serve a real chain's height instead (CometBFT `/status`). `null`: no height known yet
 * (governance then goes by time only, and status shows no blocks left).
 */
export interface HeightSource {
  current(): { height: number; time_ms: number } | null;
}
