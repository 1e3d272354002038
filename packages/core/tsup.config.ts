import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', memory: 'src/entries/memory.ts', spi: 'src/entries/spi.ts', doubles: 'src/entries/doubles.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
});
