import { defineConfig } from 'tsup';

// The plugin only; the app is built by `vite build` into dist/app, which tsup must not wipe.
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: false,
  shims: true,
  target: 'node20',
});
