/**
 * Where a node's block height comes from. Activation is by height, so every consumer (governance
 * status, the activation schedule, the fork id) asks this one interface and never cares whether
 * the height comes from validator-signed beacons gossiped in the network (the embedded default)
 * or from a real chain's node (CometBFT RPC). `null`: no height is known yet.
 */
export interface HeightSource {
  current(): { height: number; time_ms: number } | null;
}
