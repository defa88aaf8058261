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
  // A share's probe lease, installed as a share entry installs it: every test's half-open probe asks its share at once.
  import('../src/breaker/probe-lease.js').then((m) => m.installLease()),
])
export {}
