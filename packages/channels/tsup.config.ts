import { defineConfig } from 'tsup';

export default defineConfig({
  // `/smtp` and `/redis` are entries of their own so that nodemailer and ioredis stay optional peers.
  entry: { index: 'src/index.ts', smtp: 'src/entries/smtp.ts', redis: 'src/entries/redis.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // The deprecated main-entry factories resolve their optional peer with createRequire(import.meta.url).
  shims: true,
});
