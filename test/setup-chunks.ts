// The library loads its off-by-default stages and its fallback stores with import() on first use. A busy
// machine can make that first load take longer than a test's fake seconds or its short waitFor: each test
// file loads them here first, so the library's import() resolves from the module cache (still async, as in
// an app whose chunks are cached) and no test depends on how fast this machine transforms a module.
await Promise.all([
  import('../src/fallback.js'),
  import('../src/store/lru.js'),
  import('../src/store/cache-api.js'),
  import('../src/store/indexeddb.js'),
  import('../src/stages/hedge.js'),
  import('../src/stages/throttle.js'),
  import('../src/stages/coalesce.js'),
  // A share's side of the breaker stage, installed as a share entry installs it: every test's instance on a share of
  // its own shares from the start (test/share-chunk.test.ts tests one that must load it).
  Promise.all([import('../src/breaker/shared.js'), import('../src/stages/breaker.js')]).then(([m, stage]) => stage.useSharing(m.sharing)),
])
export {}
