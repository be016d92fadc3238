// "What is different about the slow ones": an endpoint's latency (histogram and heatmap, drag
// to choose the slow band) or its failures, against the other calls of the same window, as
// ranked attribute values, operations, and where the critical path time goes.
import { useEffect, useMemo, useState } from "preact/hooks";
import * as core from "../api";
import { serviceColor } from "../colors";
import { formatCount, formatDateTime, formatDuration } from "../format";
import { NoServices } from "../pages/NoServices";
import { LOOKBACKS } from "../pages/search-model";
import { navigate } from "../router";
import * as api from "./api";
import { inBand, latencyParams, questionFromUrl, urlFromQuestion, whyParams, type WhyQuestion } from "./band";
import { ShareBars } from "./charts";
import { droppedKeyNames } from "./dropped-keys";
import { LatencyHeatmap, LatencyHistogram } from "./LatencyChart";
import { Problem } from "./states";

const TIME_STEPS = 60;
const PERCENTILES = [90, 95, 99];

type Loaded<T> = { data: T | null; error: string | null; loading: boolean };
const LOADING = { data: null, error: null, loading: true };

function useApi<T>(load: (signal: AbortSignal) => Promise<T>, key: string, enabled = true): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>(LOADING);
  useEffect(() => {
    if (!enabled) return;
    const abort = new AbortController();
    setState((s) => ({ ...s, loading: true, error: null }));
    load(abort.signal).then(
      (data) => setState({ data, error: null, loading: false }),
      (e: Error) => e.name !== "AbortError" && setState({ data: null, error: e.message, loading: false }),
    );
    return () => abort.abort();
  }, [key, enabled]);
  return state;
}

export function WhyPage({ url }: { url: URL }) {
  const q = useMemo(() => questionFromUrl(url.searchParams), [url.search]);
  const services = useApi(core.services, "services");
  const operations = useApi((s) => core.operations(q.service, s), q.service, Boolean(q.service));
  const latencyKey = latencyParams(q, TIME_STEPS).toString();
  const latency = useApi((s) => api.latency(latencyParams(q, TIME_STEPS), s), latencyKey, Boolean(q.service));
  const whyKey = whyParams(q).toString();
  const why = useApi((s) => api.why(whyParams(q), s), whyKey, Boolean(q.service));

  useEffect(() => {
    // No service asked: the one last searched, else the first.
    if (q.service || !services.data?.length) return;
    const remembered = localStorage.getItem("breadcrumbs.service");
    const service = remembered && services.data.includes(remembered) ? remembered : services.data[0];
    navigate(urlFromQuestion({ ...q, service }), true);
  }, [q.service, services.data]);

  if (services.error) return <Problem title="Cannot reach breadcrumbs" text={services.error} />;
  if (services.data && services.data.length === 0) return <NoServices />;

  const ask = (patch: Partial<WhyQuestion>) => navigate(urlFromQuestion({ ...q, ...patch }));
  const banded = inBand(q);
  const thresholdNs =
    q.mode === "errors"
      ? null
      : banded
        ? (q.slowerThanNs ?? 0)
        : (why.data?.selection.thresholdNs ?? latency.data?.percentilesNs[`p${q.percentile}`] ?? null);
  const upperNs = q.mode === "errors" ? null : q.fasterThanNs;
  const entryOps = [...new Set((operations.data ?? []).map((o) => o.name))].sort();

  return (
    <div class="page analysis-page why-page">
      <div class="page-head">
        <h1>{q.mode === "errors" ? "Why do these fail?" : "Why are these slow?"}</h1>
        <span class="muted">
          What the {q.mode === "errors" ? "failing" : "slow"} calls have in common that the others do not.
        </span>
      </div>
      <div class="toolbar-card card why-form" data-testid="why-form">
        <label class="inline-field">
          Service
          <select value={q.service} data-testid="why-service" onChange={(e) => ask({ service: (e.target as HTMLSelectElement).value, operation: "" })}>
            {(services.data ?? [q.service]).map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </label>
        <label class="inline-field">
          Operation
          <select value={q.operation} data-testid="why-operation" onChange={(e) => ask({ operation: (e.target as HTMLSelectElement).value })}>
            <option value="">Entry spans (server, consumer, root)</option>
            {entryOps.map((o) => (
              <option value={o}>{o}</option>
            ))}
            {q.operation && !entryOps.includes(q.operation) && <option value={q.operation}>{q.operation}</option>}
          </select>
        </label>
        <TimeRange q={q} ask={ask} />
        <div class="segmented" role="group" aria-label="Compare">
          <button class={q.mode === "slow" ? "on" : ""} onClick={() => ask({ mode: "slow" })} data-testid="mode-slow">
            Slow calls
          </button>
          <button class={q.mode === "errors" ? "on" : ""} onClick={() => ask({ mode: "errors", slowerThanNs: null })} data-testid="mode-errors">
            Failed calls
          </button>
        </div>
        {q.mode === "slow" && (
          <div class="quick-picks">
            <span class="muted">Slowest</span>
            {PERCENTILES.map((p) => (
              <button
                class={`chip-button ${!banded && q.percentile === p ? "on" : ""}`}
                onClick={() => ask({ slowerThanNs: null, fasterThanNs: null, percentile: p })}
              >
                {100 - p}%
              </button>
            ))}
          </div>
        )}
      </div>

      {q.mode === "slow" && (
        <div class="card charts-card">
          {latency.error ? (
            <div class="banner banner-error">{latency.error}</div>
          ) : !latency.data ? (
            <div class="loading-inline">
              <div class="spinner" /> Reading latencies…
            </div>
          ) : latency.data.count === 0 ? (
            <div class="muted pad">No calls of this endpoint in the window: choose a longer time range or another operation.</div>
          ) : (
            <div class="charts-row">
              <LatencyHistogram
                latency={latency.data}
                thresholdNs={thresholdNs}
                upperNs={upperNs}
                onThreshold={(ns) => ask({ slowerThanNs: ns, fasterThanNs: null })}
              />
              <LatencyHeatmap
                latency={latency.data}
                steps={TIME_STEPS}
                thresholdNs={thresholdNs}
                upperNs={upperNs}
                onRegion={(r) => ask({ startNs: r.startNs, endNs: r.endNs, slowerThanNs: r.slowerThanNs, fasterThanNs: r.fasterThanNs })}
              />
            </div>
          )}
        </div>
      )}

      {why.error ? (
        <div class="banner banner-error" role="alert">
          {why.error}
        </div>
      ) : !why.data || why.loading ? (
        <div class="loading-block" data-testid="why-loading">
          <div class="spinner" />
          Comparing the {q.mode === "errors" ? "failed" : "slow"} calls with the others…
        </div>
      ) : (
        <WhyResults why={why.data} q={q} />
      )}
    </div>
  );
}

function TimeRange({ q, ask }: { q: WhyQuestion; ask(patch: Partial<WhyQuestion>): void }) {
  const custom = q.startNs !== null && q.endNs !== null;
  return (
    <label class="inline-field">
      Time range
      <select
        value={custom ? "custom" : q.lookback}
        data-testid="why-range"
        onChange={(e) => {
          const value = (e.target as HTMLSelectElement).value;
          if (value !== "custom") ask({ lookback: value, startNs: null, endNs: null });
        }}
      >
        {custom && <option value="custom">{`${formatDateTime(q.startNs! / 1e6)} – ${formatDateTime(q.endNs! / 1e6).split(" ").pop()}`}</option>}
        {!custom && !LOOKBACKS.some(([v]) => v === q.lookback) && <option value={q.lookback}>{`Last ${q.lookback}`}</option>}
        {/* A custom range here is one brushed on the latency chart, not picked from a list. */}
        {LOOKBACKS.filter(([value]) => value !== "custom").map(([value, label]) => (
          <option value={value}>{label}</option>
        ))}
      </select>
    </label>
  );
}

function WhyResults({ why, q }: { why: api.Why; q: WhyQuestion }) {
  const errors = why.selection.kind === "errors";
  const upper = why.selection.kind === "band" ? why.selection.upperNs : null;
  const threshold = why.selection.thresholdNs;
  const side = errors ? "failed" : upper === null ? "slow" : threshold ? "in-band" : "fast";
  const dropped = droppedKeyNames(why.droppedKeys);
  // How the selection reads in a sentence: "300ms or more", "between 20ms and 90ms".
  const bandWords =
    upper === null
      ? threshold !== null
        ? `${formatDuration(threshold)} or more`
        : null
      : threshold
        ? `between ${formatDuration(threshold)} and ${formatDuration(upper)}`
        : `under ${formatDuration(upper)}`;
  const { selected, baseline } = why.traces;
  const endpoint = `${why.endpoint.service}${why.endpoint.operation ? ` ${why.endpoint.operation}` : ""}`;
  const searchHref = (extra: Record<string, string> = {}) => {
    const p = new URLSearchParams({ service: why.endpoint.service, lookback: q.lookback, ...extra });
    if (why.endpoint.operation) p.set("operation", why.endpoint.operation);
    if (errors) p.set("errors", "1");
    else {
      if (threshold) p.set("minSpan", `${Math.floor(threshold / 1000)}us`);
      if (upper !== null) p.set("maxSpan", `${Math.floor(upper / 1000)}us`);
    }
    return `/search?${p}`;
  };

  if (selected === 0 || baseline === 0) {
    return (
      <div class="empty-state small" data-testid="why-empty">
        <h3>{selected === 0 ? `No ${side} calls to explain` : `Nothing to compare the ${side} calls with`}</h3>
        <p>
          {selected === 0
            ? errors
              ? `No call of ${endpoint} failed in this window. Choose a longer time range, or look at the slow calls instead.`
              : `No call of ${endpoint} took ${bandWords ?? "that long"} in this window. Drag further left on the histogram, or choose a longer time range.`
            : `Every call of ${endpoint} in this window is ${side}. Raise the threshold on the histogram or choose a longer time range, so some calls are left to compare with.`}
        </p>
      </div>
    );
  }
  const nothing = !why.attributes.length && !why.operations.length && !why.missingOperations.length;
  return (
    <div class="why-results" data-testid="why-results">
      <div class="summary-line">
        Comparing <b>{formatCount(selected)}</b> {side} call{selected === 1 ? "" : "s"}
        {!errors && bandWords !== null && <> ({bandWords})</>} of <b>{endpoint}</b> with the other{" "}
        <b>{formatCount(baseline)}</b>.
        {(why.traces.sampledSelected < selected || why.traces.sampledBaseline < baseline) && (
          <span class="muted"> Counted on a uniform sample of {formatCount(why.traces.sampledSelected + why.traces.sampledBaseline)} traces.</span>
        )}{" "}
        <a href={searchHref()} data-testid="why-search-link">
          See the {side} traces →
        </a>
      </div>
      {nothing && (
        <div class="empty-state small">
          <h3>Nothing stands out</h3>
          <p>
            The {side} calls carry the same attribute values and call the same operations as the others (a finding needs at least 3
            traces and a clear difference). {why.criticalPath ? "Where their time goes is below; " : ""}open one of them and{" "}
            <b>Compare…</b> it with a typical trace.
          </p>
        </div>
      )}
      <div class="why-grid">
        {why.attributes.length > 0 && (
          <section class="card why-card" data-testid="why-attributes">
            <h2>Attribute values more common in the {side} calls</h2>
            <FindingsHeader side={side} />
            {why.attributes.map((f) => (
              <FindingRow
                side={side}
                label={<code class="finding-text">{f.text}</code>}
                sources={f.sources}
                counts={f}
                href={f.operator === "=" && f.scope === "span" && f.sources[0] ? tagSearch(f, q) : null}
              />
            ))}
          </section>
        )}
        <div class="why-side">
          {why.criticalPath && <CriticalPathCard path={why.criticalPath} side={side} />}
          {!why.criticalPath && why.time.length > 0 && <SelfTimeCard time={why.time} side={side} />}
          {(why.operations.length > 0 || why.missingOperations.length > 0) && (
            <section class="card why-card" data-testid="why-operations">
              <h2>Operations in the {side} calls</h2>
              <FindingsHeader side={side} />
              {why.operations.map((f) => (
                <FindingRow side={side} label={<OperationName service={f.service} name={f.spanName} />} sources={[]} counts={f} href={null} />
              ))}
              {why.missingOperations.length > 0 && <h3 class="subhead">Rarer in the {side} calls</h3>}
              {why.missingOperations.map((f) => (
                <FindingRow side={side} label={<OperationName service={f.service} name={f.spanName} />} sources={[]} counts={f} href={null} />
              ))}
            </section>
          )}
        </div>
      </div>
      {why.rarerAttributes.length > 0 && (
        <details class="card why-card more">
          <summary>
            Attribute values rarer in the {side} calls <span class="count">{why.rarerAttributes.length}</span>
          </summary>
          <FindingsHeader side={side} />
          {why.rarerAttributes.map((f) => (
            <FindingRow side={side} label={<code class="finding-text">{f.text}</code>} sources={f.sources} counts={f} href={null} />
          ))}
        </details>
      )}
      {why.droppedKeys.length > 0 && (
        <p class="muted small">
          Left out as nearly unique per trace (ids, timestamps): {dropped.names.join(", ")}
          {dropped.more > 0 ? ` and ${dropped.more} more` : ""}.
        </p>
      )}
    </div>
  );
}

function tagSearch(f: api.AttributeFinding, q: WhyQuestion): string {
  const p = new URLSearchParams({ service: f.sources[0].service, lookback: q.lookback });
  p.append("tag", `${f.key}=${f.value}`);
  return `/search?${p}`;
}

function FindingsHeader({ side }: { side: string }) {
  return (
    <div class="finding-head">
      <span />
      <span class="legend-keys">
        <span class="swatch selected" /> {side} <span class="swatch baseline" /> others
      </span>
    </div>
  );
}

function OperationName({ service, name }: { service: string; name: string }) {
  return (
    <span class="op-name">
      <span class="dot" style={{ background: serviceColor(service) }} />
      <b>{service}</b> <span>{breakable(name)}</span>
    </span>
  );
}

/** A dotted or slashed name may wrap after each dot or slash ("a.b.c.risk_score"), not only
 * mid-word at the card's edge. */
function breakable(name: string): preact.ComponentChildren {
  const parts = name.split(/(?<=[./])/);
  return parts.map((part, i) => (i < parts.length - 1 ? [part, <wbr />] : part));
}

function FindingRow(props: {
  side: string;
  label: preact.ComponentChildren;
  sources: { service: string; spanName: string }[];
  counts: api.Proportions;
  href: string | null;
}) {
  const { selected, baseline } = props.counts;
  const ratio = baseline.share > 0 ? selected.share / baseline.share : null;
  return (
    <div class="finding" data-testid="finding">
      <div class="finding-main">
        {props.label}
        <div class="finding-sub muted small">
          {props.sources.slice(0, 2).map((s) => (
            <span class="source">
              <span class="dot" style={{ background: serviceColor(s.service) }} />
              {s.service}
              {s.spanName ? ` · ${s.spanName}` : ""}
            </span>
          ))}
          {props.sources.length > 2 && <span>+{props.sources.length - 2} more</span>}
          <span>
            {formatCount(selected.count)} {props.side} · {formatCount(baseline.count)} others
            {ratio !== null && ratio >= 1.5 ? ` · ${ratio >= 10 ? Math.round(ratio) : ratio.toFixed(1)}× as common` : ""}
            {ratio === null && selected.share > 0 ? " · never in the others" : ""}
          </span>
          {props.href && (
            <a href={props.href} class="finding-link">
              traces →
            </a>
          )}
        </div>
      </div>
      <ShareBars selected={selected.share} baseline={baseline.share} selectedLabel={props.side} />
    </div>
  );
}

function CriticalPathCard({ path, side }: { path: NonNullable<api.Why["criticalPath"]>; side: string }) {
  const rows = mergeShares(path.selected, path.baseline).slice(0, 8);
  const max = Math.max(1, ...rows.flatMap((r) => [r.selectedNs, r.baselineNs]));
  return (
    <section class="card why-card" data-testid="why-critical-path">
      <h2>Where the time goes</h2>
      <p class="muted small card-note">
        Mean time per trace on the critical path (the work the response waited for), {path.selected.traces} {side} and{" "}
        {path.baseline.traces} other traces{path.newestOnly ? ": the newest in the time range" : ""}.
      </p>
      {rows.map((r) => {
        const delta = r.selectedNs - r.baselineNs;
        const label = (
          <>
            <span class="dot" style={{ background: serviceColor(r.service) }} />
            <b>{r.service}</b>
          </>
        );
        const text = Math.abs(delta) < 1000 ? "same" : `${delta > 0 ? "+" : "−"}${formatDuration(Math.abs(delta))}`;
        return <PairedBars label={label} delta={text} slower={delta > 0} selectedNs={r.selectedNs} baselineNs={r.baselineNs} max={max} />;
      })}
    </section>
  );
}

/** Per service: critical-path time per trace on each side (over all the side's traces, so a
 * service on the path of only some of them counts for less), biggest gain first. */
function mergeShares(selected: api.PathAggregate, baseline: api.PathAggregate) {
  const rows = new Map<string, { service: string; selectedNs: number; baselineNs: number }>();
  const row = (service: string) => rows.get(service) ?? { service, selectedNs: 0, baselineNs: 0 };
  for (const s of selected.byService) rows.set(s.service, { ...row(s.service), selectedNs: s.ns / Math.max(1, selected.traces) });
  for (const b of baseline.byService) rows.set(b.service, { ...row(b.service), baselineNs: b.ns / Math.max(1, baseline.traces) });
  return [...rows.values()].sort((a, b) => b.selectedNs - b.baselineNs - (a.selectedNs - a.baselineNs));
}

function SelfTimeCard({ time, side }: { time: api.Why["time"]; side: string }) {
  const rows = time.slice(0, 8);
  const max = Math.max(1, ...rows.flatMap((r) => [r.selectedSelfNs, r.baselineSelfNs]));
  return (
    <section class="card why-card" data-testid="why-time">
      <h2>Where the extra time goes</h2>
      <p class="muted small card-note">Self time per trace by operation, {side} against the others.</p>
      {rows.map((r) => (
        <PairedBars
          label={<OperationName service={r.service} name={r.spanName} />}
          delta={`+${formatDuration(r.addedSelfNs)}`}
          slower
          selectedNs={r.selectedSelfNs}
          baselineNs={r.baselineSelfNs}
          max={max}
        />
      ))}
    </section>
  );
}

/** One row of time, the selected side's bar over the others', both written out. */
function PairedBars(props: { label: preact.ComponentChildren; delta: string; slower: boolean; selectedNs: number; baselineNs: number; max: number }) {
  return (
    <div class="cp-row">
      <div class="cp-label">
        {props.label}
        <span class={`delta ${props.slower ? "slower" : "faster"}`}>{props.delta}</span>
      </div>
      <div class="cp-bars">
        <div class="cp-bar selected" style={{ width: `${(100 * props.selectedNs) / props.max}%` }}>
          <span>{formatDuration(props.selectedNs)}</span>
        </div>
        <div class="cp-bar baseline" style={{ width: `${(100 * props.baselineNs) / props.max}%` }}>
          <span>{formatDuration(props.baselineNs)}</span>
        </div>
      </div>
    </div>
  );
}
