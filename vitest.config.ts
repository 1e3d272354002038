import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs no server and is `npm test`; `services` needs the real servers that
// `scripts/services.sh up` starts and is `npm run test:services`.
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
          exclude: ['**/*.services.test.ts', '**/node_modules/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'services',
          include: ['packages/*/test/**/*.services.test.ts', 'examples/*/test/**/*.services.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
