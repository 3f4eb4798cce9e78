import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// Hashed files under /assets/ (cached for a year by the server); no inline scripts, so the
// page runs under `default-src 'self'`.
export default defineConfig({
  plugins: [svelte()],
  build: { outDir: "dist", assetsDir: "assets", modulePreload: { polyfill: false } },
  server: { proxy: { "/api": "http://127.0.0.1:8080" } },
  test: { include: ["src/**/*.test.ts"] },
});
