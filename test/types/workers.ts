// Workers consumers only (scripts/check-types.mjs adds it where the lib is @cloudflare/workers-types):
// the runtime's own binding types fit what the package asks for, with no cast.
type Kv = typeof import('resilient-fetch/kv')
type Worker = typeof import('resilient-fetch/worker')

interface Env {
  CACHE: KVNamespace
  BREAKERS: DurableObjectNamespace
}

export function handle(kv: Kv, worker: Worker, request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  const store = kv.kvStore(env.CACHE, { prefix: 'rf:' })
  const share = worker.durableObjectShare(env.BREAKERS)
  const proxy = worker.createProxy({ upstream: 'https://api.example', store, coordinator: env.BREAKERS })
  void share
  return proxy(request, env, ctx)
}

export function coordinator(worker: Worker, state: DurableObjectState, env: Env): Promise<Response> {
  return new worker.BreakerCoordinator(state, env).fetch(new Request('https://coordinator/'))
}
