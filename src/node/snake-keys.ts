/**
 * An object's own field names in snake_case (`forgedAnnouncements` -> `forged_announcements`).
 * One level only: the values below are data keyed by peer ids and message types, left as they are.
 */
export function snakeKeys(o: object): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(o).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v]),
  );
}
