import { describe, expect, it } from "vitest";
import type { JaegerTrace } from "../api";
import { EMPTY_FORM, formFromUrl, jaegerQuery, keep, parseTags, summarize, urlFromForm } from "./search-model";

describe("search form and URL", () => {
  it("round-trips through the URL", () => {
    const form = { ...EMPTY_FORM, service: "pay ment", operation: "POST /x", tags: "a=1\nb=two words", errors: true, minTrace: "1s", kind: "server" };
    const url = new URL(urlFromForm(form), "http://x");
    expect(formFromUrl(url.searchParams)).toEqual(form);
  });
  it("reads several key=value filters", () => {
    expect(parseTags("http.status=500 user=ann\nmsg=a b")).toEqual([
      ["http.status", "500"],
      ["user", "ann"],
      ["msg", "a b"],
    ]);
  });
  it("asks the Jaeger API for span filters and errors", () => {
    const q = jaegerQuery({ ...EMPTY_FORM, service: "s", tags: "k=v", errors: true, minSpan: "150ms" });
    expect(q.getAll("tag")).toEqual(["k:v", "error:true"]);
    expect(q.get("minDuration")).toBe("150000us");
  });
});

describe("trace summaries", () => {
  const trace: JaegerTrace = {
    traceID: "t",
    processes: { p1: { serviceName: "api" }, p2: { serviceName: "db" } },
    spans: [
      { traceID: "t", spanID: "b", operationName: "query", references: [{ refType: "CHILD_OF", traceID: "t", spanID: "a" }], startTime: 1_000_100, duration: 50, tags: [{ key: "error", type: "bool", value: true }, { key: "span.kind", type: "string", value: "client" }], processID: "p2" },
      { traceID: "t", spanID: "a", operationName: "GET /", references: [], startTime: 1_000_000, duration: 400, tags: [{ key: "span.kind", type: "string", value: "server" }], processID: "p1" },
    ],
  };
  it("finds the root, counts spans, services and errors, measures the whole trace", () => {
    const row = summarize(trace, { ...EMPTY_FORM, service: "api" });
    expect(row).toMatchObject({ rootService: "api", rootName: "GET /", spans: 2, errors: 1, durationNs: 400_000, startMs: 1000 });
    expect(row.services).toEqual([
      { name: "api", spans: 1 },
      { name: "db", spans: 1 },
    ]);
  });
  it("filters by whole-trace duration and span kind", () => {
    const form = { ...EMPTY_FORM, service: "db", kind: "client", minTrace: "300us" };
    expect(keep([summarize(trace, form)], form)).toHaveLength(1);
    expect(keep([summarize(trace, { ...form, kind: "server" })], { ...form, kind: "server" })).toHaveLength(0);
    expect(keep([summarize(trace, form)], { ...form, minTrace: "1ms" })).toHaveLength(0);
  });
});
