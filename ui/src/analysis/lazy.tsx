// The analysis pages stay out of the first load: search and trace open without them, and
// their chunk (code and styles) arrives the first time one is shown.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";

type Pages = typeof import("./pages");
let loaded: Pages | null = null;

export function AnalysisPage({ render }: { render(pages: Pages): JSX.Element }) {
  const [pages, setPages] = useState<Pages | null>(loaded);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    if (pages) return;
    import("./pages").then(
      (m) => {
        loaded = m;
        setPages(m);
      },
      () => setFailed(true),
    );
  }, []);
  if (pages) return render(pages);
  return (
    <div class="page">
      {failed ? (
        <div class="empty-state">
          <h2>This page did not load</h2>
          <p>breadcrumbs may have been upgraded or restarted meanwhile: reload the page.</p>
        </div>
      ) : (
        <div class="loading-block">
          <div class="spinner" />
        </div>
      )}
    </div>
  );
}
