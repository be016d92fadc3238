// The "left out" line of the why page: the API lists a dropped key once per place it was seen
// (scope, service, operation), so a key such as user.id on every service came out repeated.
export interface DroppedKey {
  key: string;
  service: string;
}

/** Each key once, the most widespread first (then by name), and how many more there are. */
export function droppedKeyNames(keys: readonly DroppedKey[], shown = 8): { names: string[]; more: number } {
  const services = new Map<string, Set<string>>();
  for (const { key, service } of keys) {
    const seen = services.get(key) ?? new Set<string>();
    seen.add(service);
    services.set(key, seen);
  }
  const names = [...services.entries()]
    .sort(([a, sa], [b, sb]) => sb.size - sa.size || a.localeCompare(b))
    .map(([key, seen]) => (seen.size > 1 ? `${key} (${seen.size} services)` : key));
  return { names: names.slice(0, shown), more: Math.max(0, names.length - shown) };
}
