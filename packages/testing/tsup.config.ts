import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/doubles.ts'],
  external: ['vitest', '@crm-automation/core'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
});
