import { defineConfig } from 'vitest/config'

// Three projects: fast unit tests in Node (happy-dom per file where a browser is needed),
// the Worker in workerd, and end-to-end tests: headless Chromium, and the contract suite in every runtime.
// The end-to-end files run one at a time: the first launch may unpack the packaged Chromium.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/worker/**', 'test/e2e/**', 'test/contract/**'],
          environment: 'node',
          setupFiles: ['test/setup-chunks.ts'],
        },
      },
      'test/worker/vitest.config.ts',
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts', 'test/contract/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
    ],
  },
})
