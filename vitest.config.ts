import { defineConfig } from 'vitest/config'

// Three projects: fast unit tests in Node (happy-dom per file where a browser is needed),
// the Worker in workerd, and end-to-end tests in headless Chromium.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/worker/**', 'test/e2e/**'],
          environment: 'node',
        },
      },
      'test/worker/vitest.config.ts',
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
    ],
  },
})
