// Vite configuration for the cxm dashboard.
// `npm run dev` proxies /api to a running cxm (CXM_URL, default
// http://127.0.0.1:8099); `npm run build` writes web/dist, which cxm embeds.
import { defineConfig } from 'vite';

declare const process: { env: Record<string, string | undefined> };

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The preload polyfill is not needed by the browsers we target, and the
    // CSP forbids inline scripts anyway.
    modulePreload: { polyfill: false },
    // Keep the CSS and JS in files: the CSP allows only same-origin scripts.
    assetsInlineLimit: 0,
    reportCompressedSize: true,
    // ECharts' core alone is ~500 kB minified (~170 kB gzip) even with modular
    // imports; it is a separate chunk loaded only by the pages with charts.
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: { '/api': process.env.CXM_URL || 'http://127.0.0.1:8099' },
  },
});
