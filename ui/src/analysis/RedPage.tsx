// Services: rate, errors and duration (p50/p95/p99) over time for every service as small
// multiples on one time axis; a service's page adds its operations, each one click from its
// traces and from "why".
import { useEffect, useState } from "preact/hooks";
import { serviceColor } from "../colors";
import { formatDuration } from "../format";
import { NoServices } from "../pages/NoServices";
import { navigate } from "../router";
import * as api from "./api";
import { Pending } from "./states";
import { TimeChart } from "./charts";
import { alignSteps, byAttention, formatPercent, formatRate, isEstimated, serviceSeries, valueAt, type Metric } from "./red-model";

const RANGES: [string, string, number][] = [
  ["15m", "Last 15 minutes", 15 * 60e9],
  ["1h", "Last hour", 3600e9],
  ["6h", "Last 6 hours", 6 * 3600e9],
  ["24h", "Last 24 hours", 24 * 3600e9],
  ["7d", "Last 7 days", 7 * 24 * 3600e9],
];
const LATENCY_COLORS = { p50: "#0d9488", p95: "#4f46e5", p99: "#c026d3" };

function redParams(rangeNs: number, service: string | null, groupBy: "service" | "operation"): URLSearchParams {
  const end = Date.now() * 1e6;
  const p = new URLSearchParams({ start: String(end - rangeNs), end: String(end), groupBy });
  if (service) p.set("service", service);
  return p;
}

export function RedPage({ url }: { url: URL }) {
  const range = url.searchParams.get("lookback") || "1h";
  const service = url.searchParams.get("service");
  const rangeNs = (RANGES.find(([v]) => v === range) ?? RANGES[1])[2];
  const [found, setFound] = useState<api.Red | null>(null);
  const [operations, setOperations] = useState<api.Red | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const abort = new AbortController();
    setFound(null);
    setOperations(null);
    setError(null);
    const fail = (e: Error) => e.name !== "AbortError" && setError(e.message);
    api.red(redParams(rangeNs, service, "service"), abort.signal).then(setFound, fail);
    if (service) api.red(redParams(rangeNs, service, "operation"), abort.signal).then(setOperations, fail);
    return () => abort.abort();
  }, [range, service]);

  const go = (patch: { lookback?: string; service?: string | null }) => {
    const p = new URLSearchParams();
    const s = patch.service === undefined ? service : patch.service;
    if (s) p.set("service", s);
    p.set("lookback", patch.lookback ?? range);
    navigate(`/services?${p}`);
  };
  const head = (
    <div class="page-head">
      <h1>
        {service ? (
          <>
            <a href={`/services?lookback=${range}`} class="crumb">
              Services
            </a>{" "}
            / <span class="dot big" style={{ background: serviceColor(service) }} />
            {service}
          </>
        ) : (
          "Services"
        )}
      </h1>
      <select value={range} data-testid="red-range" onChange={(e) => go({ lookback: (e.target as HTMLSelectElement).value })}>
        {RANGES.map(([value, label]) => (
          <option value={value}>{label}</option>
        ))}
      </select>
      <span class="muted">Rate, errors and duration of every span as it arrived (counted before any sampling).</span>
    </div>
  );
  if (error || !found) return <Pending head={head} error={error} loading="Reading RED metrics…" testId="red-loading" />;
  const picked = byAttention(serviceSeries(found.series));
  if (!picked.length) {
    if (!service) return <NoServices />;
    return (
      <div class="page analysis-page">
        {head}
        <div class="empty-state small">
          <h3>No spans of {service} in this time range</h3>
          <p>Choose a longer time range, or check the service name (it is the resource's service.name).</p>
          <p>
            <a class="button" href={`/services?service=${encodeURIComponent(service)}&lookback=24h`}>
              Show the last 24 hours
            </a>
          </p>
        </div>
      </div>
    );
  }
  const times = alignSteps([], found.start, found.end, found.step).map((s) => s.time);
  return (
    <div class="page analysis-page red-page">
      {head}
      {found.estimated && <div class="banner banner-warn">Some of these spans were sampled, so the figures marked ≈ are estimates of the real traffic: each sampled span counts as the number of requests it stands for (1/p, from its <code>ot=th:</code> tracestate).</div>}
      <div class="red-grid" data-testid="red-services">
        <div class="red-row red-header">
          <span>Service</span>
          <span>Requests</span>
          <span>Errors</span>
          <span>Duration</span>
        </div>
        {picked.map((s) => (
          <ServiceRow series={s} red={found} range={range} times={times} onOpen={() => go({ service: s.service })} big={Boolean(service)} />
        ))}
      </div>
      {service && <OperationsTable red={operations} service={service} range={range} />}
    </div>
  );
}

function charts(series: api.RedSeries, red: api.Red, times: number[]) {
  const steps = alignSteps(series.points, red.start, red.end, red.step);
  const values = (metric: Metric) => steps.map((s) => valueAt(s, metric));
  return { times: times.length === steps.length ? times : steps.map((s) => s.time), values };
}

function ServiceRow(props: { series: api.RedSeries; red: api.Red; range: string; times: number[]; onOpen(): void; big: boolean }) {
  const { series: s, red } = props;
  const q = `service=${encodeURIComponent(s.service)}&lookback=${props.range}`;
  const { times, values } = charts(s, red, props.times);
  const t = s.totals;
  const height = props.big ? 150 : 96;
  return (
    <div class={`red-row card ${t.errors ? "failing" : ""}`} data-testid="red-service">
      <div class="red-name">
        <button class="link red-title" onClick={props.onOpen} title={`Open ${s.service}`}>
          <span class="dot" style={{ background: serviceColor(s.service) }} />
          {s.service}
        </button>
        <div class="muted small">
          {s.spanKind ?? "all"} spans{isEstimated(s, red) && <span class="badge badge-est" title="The store estimates these counts">≈ estimated</span>}
        </div>
        <div class="red-totals">
          <span>
            <b>{formatRate(t.rate)}</b>
          </span>
          <span class={t.errors ? "bad" : ""}>
            <b>{formatPercent(t.errorRate)}</b> errors
          </span>
          <span>
            p95 <b>{t.p95 === null ? "–" : formatDuration(t.p95)}</b>
          </span>
        </div>
        <div class="red-links small">
          <a href={`/search?${q}`}>Traces</a>
          <a href={`/why?${q}`}>Why slow?</a>
          {t.errors > 0 && <a href={`/why?${q}&errors=1`}>Why errors?</a>}
        </div>
      </div>
      <TimeChart title="" times={times} stepNs={red.step} height={height} lines={[{ name: "rate", color: "#4f46e5", values: values("rate"), area: true }]} format={formatRate} />
      <TimeChart
        title=""
        times={times}
        stepNs={red.step}
        height={height}
        minMax={0.05}
        lines={[{ name: "errors", color: "#dc2626", values: values("errorRate"), area: true }]}
        format={formatPercent}
      />
      <TimeChart
        title=""
        times={times}
        stepNs={red.step}
        height={height}
        lines={(["p50", "p95", "p99"] as const).map((p) => ({ name: p, color: LATENCY_COLORS[p], values: values(p) }))}
        format={formatDuration}
      />
    </div>
  );
}

type SortKey = "calls" | "errorRate" | "p50" | "p95" | "p99";

function OperationsTable({ red, service, range }: { red: api.Red | null; service: string; range: string }) {
  const [sort, setSort] = useState<SortKey>("calls");
  if (!red)
    return (
      <div class="loading-inline">
        <div class="spinner" /> Reading operations…
      </div>
    );
  const rows = [...red.series].sort((a, b) => (b.totals[sort] ?? -1) - (a.totals[sort] ?? -1));
  const header = (key: SortKey, label: string) => (
    <th class="num sortable" aria-sort={sort === key ? "descending" : "none"}>
      <button class="link" onClick={() => setSort(key)}>
        {label} {sort === key ? "↓" : ""}
      </button>
    </th>
  );
  return (
    <section class="ops">
      <h2>Operations</h2>
      <table class="trace-table ops-table" data-testid="red-operations">
        <thead>
          <tr>
            <th>Operation</th>
            <th>Kind</th>
            {header("calls", "Requests")}
            {header("errorRate", "Errors")}
            {header("p50", "p50")}
            {header("p95", "p95")}
            {header("p99", "p99")}
            <th />
          </tr>
        </thead>
        <tbody>
          {rows.map((s) => {
            const t = s.totals;
            const op = s.operation ?? "";
            const q = `service=${encodeURIComponent(service)}&operation=${encodeURIComponent(op)}`;
            return (
              <tr class={t.errors ? "has-error" : ""}>
                <td>
                  <b>{op}</b>
                  {isEstimated(s, red) && <span class="badge badge-est">≈</span>}
                </td>
                <td class="muted">{s.spanKind ?? ""}</td>
                <td class="num">{formatRate(t.rate)}</td>
                <td class="num">{t.errors ? <span class="badge badge-error">{formatPercent(t.errorRate)}</span> : <span class="muted">0%</span>}</td>
                <td class="num">{t.p50 === null ? "–" : formatDuration(t.p50)}</td>
                <td class="num">{t.p95 === null ? "–" : formatDuration(t.p95)}</td>
                <td class="num">{t.p99 === null ? "–" : formatDuration(t.p99)}</td>
                <td>
                  <div class="row-actions">
                    <a href={`/search?${q}&lookback=${range}`}>Traces</a>
                    <a href={`/why?${q}&lookback=${range}`}>Why slow?</a>
                    {t.errors > 0 && <a href={`/why?${q}&lookback=${range}&errors=1`}>Why errors?</a>}
                  </div>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}
