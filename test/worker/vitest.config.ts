import { cloudflareTest } from '@cloudflare/vitest-pool-workers'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  plugins: [
    cloudflareTest({
      // As wrangler.toml; each test builds its proxy from its own config, so no wrangler.toml is read.
      miniflare: {
        compatibilityDate: '2026-04-01',
        compatibilityFlags: ['enable_request_signal'],
      },
    }),
  ],
  test: {
    name: 'worker',
    include: ['**/*.test.ts'],
    globalSetup: ['./global-setup.ts'],
  },
})
