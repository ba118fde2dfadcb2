/**
 * Where the network's height comes from (DESIGN.md `governance/`): by default validator-signed
 * height beacons gossiped in the network; an adapter admits a real chain. null: no reading yet.
 */
export interface HeightSource {
  current(): { height: number; time_ms: number } | null;
}
