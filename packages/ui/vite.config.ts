import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const API_ROUTES = ['/rules', '/triggers', '/events', '/event-types', '/healthz', '/openapi.json'];

// The app builds into dist/app, which the Fastify plugin in src/ serves. The build's `base: './'` keeps
// asset URLs relative; the plugin adds a <base href> for the prefix it is mounted at. In development
// (`npm run dev`) the app is at /ui/ and the API routes go to `npm run serve` (PORT, default 3000).
export default defineConfig(({ command }) => ({
  root: fileURLToPath(new URL('./app', import.meta.url)),
  base: command === 'build' ? './' : '/ui/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  // What managementUi does when it serves the build: the app's routes resolve against <base href>.
  plugins: [{ name: 'crm-dev-base', apply: 'serve', transformIndexHtml: (html: string) => html.replace('<head>', '<head>\n    <base href="/ui/" />') }],
  build: {
    outDir: fileURLToPath(new URL('./dist/app', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // One script and one stylesheet: no inline code, so the plugin's CSP can forbid inline scripts.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  server: {
    host: '127.0.0.1',
    proxy: Object.fromEntries(API_ROUTES.map((route) => [route, `http://127.0.0.1:${process.env['PORT'] ?? '3000'}`])),
  },
}));
