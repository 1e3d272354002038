import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The app builds into dist/app, which the Fastify plugin in src/ serves. `base: './'` keeps asset URLs
// relative; the plugin adds a <base href> for the prefix it is mounted at, so deep links work too.
export default defineConfig({
  root: fileURLToPath(new URL('./app', import.meta.url)),
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('./dist/app', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // One script and one stylesheet: no inline code, so the plugin's CSP can forbid inline scripts.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  server: { host: '127.0.0.1' },
});
