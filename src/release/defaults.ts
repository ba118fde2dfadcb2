/**
 * Default lifetimes of the four roles (seconds) and how long before expiry the release and trust
 * commands start warning (docs/maintainer-keys.md, "Expiry"). The warning windows leave time for
 * what renewing each role takes: a root needs a k-of-n ceremony of offline keys (weeks), targets
 * k-of-n maintainers (days), snapshot and timestamp only the online key that cron runs (a couple
 * of missed runs).
 */
const DAY = 86_400;

export const DEFAULT_EXPIRY = {
  root: 365 * DAY,
  targets: 30 * DAY,
  snapshot: 7 * DAY,
  timestamp: 7 * DAY,
};

export const EXPIRY_WARNING_SEC = {
  root: 60 * DAY,
  targets: 10 * DAY,
  snapshot: 2 * DAY,
  timestamp: 2 * DAY,
};
