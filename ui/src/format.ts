// Human-readable durations and times. Inputs are nanoseconds unless a name says otherwise.

export function formatDuration(ns: number): string {
  const abs = Math.abs(ns);
  if (abs < 1_000) return `${Math.round(ns)}ns`;
  if (abs < 1_000_000) return `${trim(ns / 1_000)}µs`;
  if (abs < 1_000_000_000) return `${trim(ns / 1_000_000)}ms`;
  if (abs < 60_000_000_000) return `${trim(ns / 1_000_000_000)}s`;
  const minutes = Math.floor(abs / 60_000_000_000);
  const seconds = Math.round((abs % 60_000_000_000) / 1_000_000_000);
  return `${ns < 0 ? "-" : ""}${minutes}m${seconds ? ` ${seconds}s` : ""}`;
}

function trim(value: number): string {
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return String(Number(value.toFixed(digits)));
}

export function formatTime(epochMs: number): string {
  const d = new Date(epochMs);
  return d.toLocaleTimeString(undefined, { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

export function formatDateTime(epochMs: number): string {
  const d = new Date(epochMs);
  return `${d.toLocaleDateString(undefined, { month: "short", day: "numeric" })} ${formatTime(epochMs)}`;
}

export function formatAgo(epochMs: number, nowMs = Date.now()): string {
  const s = Math.round((nowMs - epochMs) / 1000);
  if (s < 60) return `${Math.max(s, 0)}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

export function formatCount(n: number): string {
  return n.toLocaleString("en-US");
}

// Go duration syntax the Jaeger API reads ("1.5ms", "2s"); "" when the text is not one.
const UNITS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 6e10, h: 3.6e12 };

export function parseDuration(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|m|h)?\s*$/.exec(text);
  if (!m) return null;
  return Number(m[1]) * UNITS[m[2] ?? "ms"];
}

export function toGoDuration(text: string): string {
  const ns = parseDuration(text);
  return ns === null ? "" : `${Math.round(ns / 1000)}us`;
}
