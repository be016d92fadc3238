// The ways into the analysis pages from the other pages, each one self-contained so the host
// page only places it: "Why are these slow?" on a brushed scatter region, ticking two search
// results to compare them, and "Compare…" in a trace's header.
import { useEffect, useRef, useState } from "preact/hooks";
import { navigate } from "../router";
import "./entry.css";

/** The search form's service/operation and the brushed region (ms and ns) as a why question. */
export function whyHrefForRegion(service: string, operation: string, region: { t0: number; t1: number; d0: number; d1?: number }): string {
  const p = new URLSearchParams({ service });
  if (operation) p.set("operation", operation);
  p.set("start", String(Math.floor(region.t0 * 1e6)));
  p.set("end", String(Math.ceil(region.t1 * 1e6)));
  p.set("slowerThan", String(Math.max(1, Math.floor(region.d0))));
  // The brushed rectangle's top edge bounds the band too, so a middle hump is asked about alone.
  if (region.d1 !== undefined && region.d1 > region.d0) p.set("fasterThan", String(Math.ceil(region.d1)));
  return `/why?${p}`;
}

export function WhyRegionButton(props: { service: string; operation: string; region: { t0: number; t1: number; d0: number; d1?: number } }) {
  return (
    <a class="button small button-accent" href={whyHrefForRegion(props.service, props.operation, props.region)} data-testid="why-region">
      Why are these slow?
    </a>
  );
}

// Two ticked traces, shared by every row's checkbox and the bar above the list.
const picked: string[] = [];
const listeners = new Set<() => void>();

function usePicked(): string[] {
  const [, setTick] = useState(0);
  useEffect(() => {
    const update = () => setTick((t) => t + 1);
    listeners.add(update);
    return () => void listeners.delete(update);
  }, []);
  return picked;
}

function setPicked(ids: string[]): void {
  picked.splice(0, picked.length, ...ids.slice(-2));
  listeners.forEach((l) => l());
}

export function ComparePick({ traceId }: { traceId: string }) {
  const ids = usePicked();
  const on = ids.includes(traceId);
  return (
    <input
      type="checkbox"
      class="compare-pick"
      checked={on}
      title="Tick two traces to compare them"
      aria-label="Select for comparison"
      data-testid="compare-pick"
      onChange={() => setPicked(on ? ids.filter((id) => id !== traceId) : [...ids, traceId])}
    />
  );
}

export function CompareTray() {
  const ids = usePicked();
  if (!ids.length) return null;
  return (
    <div class="compare-tray" data-testid="compare-tray">
      {ids.length === 1 ? "1 trace ticked:" : "2 traces ticked:"}
      <button
        class="button small button-primary"
        data-testid="compare-picked"
        onClick={() => {
          const [a, b] = ids;
          setPicked([]);
          navigate(b ? `/compare/${a}/${b}` : `/compare/${a}`);
        }}
      >
        {ids.length === 1 ? "Compare with a typical trace" : "Compare them"}
      </button>
      <button class="link small" onClick={() => setPicked([])}>
        Clear
      </button>
    </div>
  );
}

/** "Compare…" in a trace's header: with its endpoint's typical trace, or another trace id. */
export function CompareMenu({ traceId }: { traceId: string }) {
  const [open, setOpen] = useState(false);
  const [other, setOther] = useState("");
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const close = (event: MouseEvent) => !ref.current?.contains(event.target as Node) && setOpen(false);
    document.addEventListener("mousedown", close);
    return () => document.removeEventListener("mousedown", close);
  }, [open]);
  const valid = /^[0-9a-fA-F]{16,32}$/.test(other.trim());
  return (
    <div class="compare-menu" ref={ref}>
      <button class="button small" onClick={() => setOpen(!open)} aria-expanded={open} data-testid="compare-menu">
        Compare…
      </button>
      {open && (
        <div class="compare-pop card">
          <a class="button small button-primary wide" href={`/compare/${traceId}`} data-testid="compare-typical">
            With a typical trace of this endpoint
          </a>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              if (valid) navigate(`/compare/${traceId}/${other.trim().toLowerCase()}`);
            }}
          >
            <input placeholder="…or another trace id" value={other} aria-label="Other trace id" onInput={(e) => setOther((e.target as HTMLInputElement).value)} />
            <button class="button small" type="submit" disabled={!valid}>
              Compare
            </button>
          </form>
        </div>
      )}
    </div>
  );
}
