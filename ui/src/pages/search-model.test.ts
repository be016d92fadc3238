import { describe, expect, it } from "vitest";
import { EMPTY_FORM, formFromUrl, matchQuery, parseTags, searchQuery, toRow, urlFromForm } from "./search-model";

describe("search form and URL", () => {
  it("round-trips through the URL", () => {
    const form = {
      ...EMPTY_FORM,
      service: "pay ment",
      operation: "POST /x",
      tags: "a=1\nb=two words",
      resourceTags: "deployment.environment=prod",
      errors: true,
      minTrace: "1s",
      kind: "server",
      lookback: "custom",
      from: "2026-12-03T10:00",
      to: "2026-12-03T11:00",
    };
    const url = new URL(urlFromForm(form), "http://x");
    expect(formFromUrl(url.searchParams)).toEqual(form);
  });
  it("leaves every service out of the URL when none is chosen", () => {
    expect(urlFromForm({ ...EMPTY_FORM })).not.toContain("service=");
  });
  it("reads several key=value filters", () => {
    expect(parseTags("http.status=500 user=ann\nmsg=a b")).toEqual([
      ["http.status", "500"],
      ["user", "ann"],
      ["msg", "a b"],
    ]);
  });
  it("asks the native search for span and resource filters, both durations and errors", () => {
    const q = searchQuery({ ...EMPTY_FORM, tags: "k=v", resourceTags: "r=1", errors: true, minSpan: "150ms", maxTrace: "2s", kind: "client" });
    expect(q.has("service")).toBe(false);
    expect(q.getAll("spanTag")).toEqual(["k=v"]);
    expect(q.getAll("resourceTag")).toEqual(["r=1"]);
    expect(q.get("errors")).toBe("1");
    expect(q.get("kind")).toBe("client");
    expect(q.get("minDuration")).toBe("150000us");
    expect(q.get("maxTraceDuration")).toBe("2000000us");
    expect(q.get("lookback")).toBe("1h");
  });
  it("sends a custom range as start and end in ns", () => {
    const q = searchQuery({ ...EMPTY_FORM, lookback: "custom", from: "2026-12-03T10:00", to: "2026-12-03T11:00" });
    expect(Number(q.get("end")) - Number(q.get("start"))).toBe(3600e9);
    expect(q.has("lookback")).toBe(false);
  });
  it("keeps only the span conditions and a fixed window for the trace page", () => {
    const q = searchQuery({ ...EMPTY_FORM, service: "api", minTrace: "1s" });
    const m = new URLSearchParams(matchQuery(q, 5, 9));
    expect([...m.keys()].sort()).toEqual(["end", "service", "start"]);
    expect(m.get("start")).toBe("5");
  });
});

describe("result rows", () => {
  it("read the summary and the matching span", () => {
    const row = toRow({
      traceId: "t",
      root: { spanId: "a", service: "api", name: "GET /" },
      startNs: 1_000_000_000,
      durationNs: 400_000,
      spanCount: 2,
      errorCount: 1,
      services: [{ name: "api", spans: 1, errors: 0 }],
      matched: { count: 1, spanId: "b", service: "db", name: "query", durationNs: 50_000 },
    });
    expect(row).toMatchObject({ rootService: "api", rootName: "GET /", spans: 2, errors: 1, startMs: 1000 });
    expect(row.matched.durationNs).toBe(50_000);
  });
});
