import { defineConfig } from 'tsup'

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    idb: 'src/store/idb.ts',
    cache: 'src/store/cache.ts',
    kv: 'src/store/kv.ts',
    metrics: 'src/metrics/prometheus.ts',
    ky: 'src/integrations/ky.ts',
    worker: 'src/worker/index.ts',
    share: 'src/share/tabs.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  target: 'es2022',
  platform: 'neutral',
  external: ['ky', 'idb-keyval'],
  splitting: true,
  treeshake: true,
})
