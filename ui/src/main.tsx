import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { AnalysisPage } from "./analysis/lazy";
import { MapPage } from "./pages/MapPage";
import { SearchPage } from "./pages/SearchPage";
import { TracePage } from "./pages/TracePage";
import { navigate, onLinkClick, useLocation } from "./router";
import "./styles.css";

function App() {
  const url = useLocation();
  const path = url.pathname.replace(/\/+$/, "") || "/";
  const traceMatch = /^\/trace\/([^/]+)$/.exec(path);
  const compareMatch = /^\/compare(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(path);
  let page;
  if (path === "/" || path === "/search") page = <SearchPage url={url} />;
  else if (traceMatch) {
    const q = url.searchParams;
    page = <TracePage traceId={decodeURIComponent(traceMatch[1])} params={{ span: q.get("span"), match: q.get("match"), view: q.get("view") }} />;
  }
  else if (path === "/map") page = <MapPage url={url} />;
  else if (path === "/why") page = <AnalysisPage render={(p) => <p.WhyPage url={url} />} />;
  else if (path === "/services" || path === "/red") page = <AnalysisPage render={(p) => <p.RedPage url={url} />} />;
  else if (path === "/doctor") page = <AnalysisPage render={(p) => <p.DoctorPage url={url} />} />;
  else if (compareMatch) page = <AnalysisPage render={(p) => <p.ComparePage a={compareMatch[1] ?? null} b={compareMatch[2] ?? null} />} />;
  else
    page = (
      <div class="page">
        <div class="empty-state">
          <h2>No page here</h2>
          <p>
            <a href="/search">Search traces</a> or open the <a href="/map">service map</a>.
          </p>
        </div>
      </div>
    );
  useEffect(() => {
    document.title = `${traceMatch ? `Trace ${traceMatch[1].slice(0, 8)}` : (TITLES[path.split("/")[1]] ?? "Search")} · breadcrumbs`;
  }, [path]);
  return (
    <div class="app" onClick={(e) => onLinkClick(e as unknown as MouseEvent)}>
      <nav class="topbar">
        <a class="brand" href="/search">
          <svg viewBox="0 0 32 32" width="22" height="22" aria-hidden="true">
            <circle cx="8" cy="23" r="3.2" fill="#f59e0b" />
            <circle cx="16" cy="15.5" r="3.2" fill="#fbbf24" />
            <circle cx="24" cy="8" r="3.2" fill="#fde68a" />
          </svg>
          breadcrumbs
        </a>
        <a class={`nav ${path === "/" || path === "/search" ? "active" : ""}`} href="/search">
          Search
        </a>
        <a class={`nav ${path === "/map" ? "active" : ""}`} href="/map">
          Service map
        </a>
        <a class={`nav ${path === "/services" || path === "/red" ? "active" : ""}`} href="/services">
          Services
        </a>
        <a class={`nav ${path === "/why" ? "active" : ""}`} href="/why">
          Why slow?
        </a>
        <a class={`nav ${compareMatch ? "active" : ""}`} href="/compare">
          Compare
        </a>
        <a class={`nav ${path === "/doctor" ? "active" : ""}`} href="/doctor">
          Doctor
        </a>
        <div class="spacer" />
        <TraceIdJump />
      </nav>
      {page}
    </div>
  );
}

const TITLES: Record<string, string> = {
  map: "Service map",
  services: "Services",
  red: "Services",
  why: "Why",
  compare: "Compare",
  doctor: "Doctor",
};

function TraceIdJump() {
  const [value, setValue] = useState("");
  return (
    <form
      class="jump"
      onSubmit={(e) => {
        e.preventDefault();
        const id = value.trim().toLowerCase();
        if (/^[0-9a-f]{16,32}$/.test(id)) {
          navigate(`/trace/${id}`);
          setValue("");
        }
      }}
    >
      <input
        placeholder="Go to trace id…"
        value={value}
        aria-label="Trace id"
        onInput={(e) => setValue((e.target as HTMLInputElement).value)}
      />
    </form>
  );
}

render(<App />, document.getElementById("app")!);
