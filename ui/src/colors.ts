// Stable service colours: a service keeps its colour across pages, traces and reloads.
const PALETTE = [
  "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948",
  "#9c755f", "#ff9da7", "#3b8bc2", "#8cd17d", "#b6992d", "#d37295",
  "#86bcb6", "#a0cbe8", "#f1ce63", "#79706e",
];

export const ERROR_COLOR = "#dc2626";

export function hashString(text: string): number {
  // FNV-1a: small, fast, well spread for short names.
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function serviceColor(service: string): string {
  return PALETTE[hashString(service) % PALETTE.length];
}
