/**
 * The height an activation acts on, from the height the node has accepted. Height beacons follow
 * a fixed schedule (height h begins at the genesis time + h block intervals, and validators sign
 * each at its time), but a beacon reaches a busy node late: a node that accepted h - 1 may not
 * hold h until after h + 1 has begun, and would then switch one block late, beside peers that
 * switched at h. Once h - 1 is accepted (2/3 of stake signed it) and a whole block interval has
 * passed since its time, height h has begun by the network's schedule: the activation treats it
 * as reached. Never more than one block ahead of what 2/3 of stake signed, so a wrong clock moves
 * a switch by at most one block, and only forwards in time. A chain's heights (CometBFT) have no
 * fixed schedule: the caller passes no interval there and gets the accepted height as it is.
 */
export interface HeightPoint {
  height: number;
  time_ms: number;
}

export function dueHeight(
  accepted: HeightPoint | null,
  blockIntervalMs: number | undefined,
  nowMs: number,
): HeightPoint | null {
  if (!accepted || !blockIntervalMs || blockIntervalMs <= 0) return accepted;
  if (nowMs - accepted.time_ms < blockIntervalMs) return accepted;
  return { height: accepted.height + 1, time_ms: accepted.time_ms + blockIntervalMs };
}
