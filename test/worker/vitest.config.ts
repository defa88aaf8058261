import { fileURLToPath } from 'node:url'
import { cloudflareTest } from '@cloudflare/vitest-pool-workers'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  plugins: [
    cloudflareTest({
      // Exports BreakerCoordinator, so runInDurableObject and runDurableObjectAlarm can reach it.
      main: fileURLToPath(new URL('./main.ts', import.meta.url)),
      // As wrangler.toml; each test builds its proxy from its own config, so no wrangler.toml is read.
      miniflare: {
        compatibilityDate: '2026-04-01',
        compatibilityFlags: ['enable_request_signal'],
        durableObjects: { BREAKERS: { className: 'BreakerCoordinator', useSQLite: true } },
        // A local Workers KV namespace for the last-known-good copies (LAST_KNOWN_GOOD in wrangler.toml).
        kvNamespaces: ['LAST_KNOWN_GOOD'],
      },
    }),
  ],
  test: {
    name: 'worker',
    include: ['**/*.test.ts'],
    globalSetup: ['./global-setup.ts', './slow-upstream.ts', './shared-upstream.ts'],
  },
})
