import preact from "@preact/preset-vite";
import { defineConfig } from "vitest/config";

// The build lands inside the Python package, which `breadcrumbs serve` serves at `/`.
export default defineConfig({
  plugins: [preact()],
  build: {
    outDir: "../src/breadcrumbs/ui",
    emptyOutDir: true,
    target: "es2022",
    reportCompressedSize: true,
  },
  worker: { format: "es" },
  server: {
    // `npm run dev` against a local `breadcrumbs serve` on the default port.
    proxy: { "/api": "http://localhost:16686" },
  },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
