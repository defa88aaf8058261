import { configFromEnv, ENV_NAMES } from './config.js'
import { buildProxy, json, type ProxyHandler, type WorkerContext } from './proxy.js'

export { createProxy } from './proxy.js'
export { configFromEnv } from './config.js'
export type { ProxyConfig } from './config.js'
export type { ProxyHandler, WorkerContext } from './proxy.js'
export { durableObjectShare } from './share.js'
export type { CoordinatorNamespace, DurableObjectShare, DurableObjectShareOptions } from './share.js'
export { BreakerCoordinator } from './coordinator.js'
export type { CoordinatorContext } from './coordinator.js'

const byEnv = new WeakMap<object, ProxyHandler>()
const byVars = new Map<string, ProxyHandler>()

/**
 * The proxy for this env, built on first use and kept for the isolate's life (its breakers live in
 * memory). Keyed by the env object, and by the vars' values in case a runtime hands a new env object
 * per request. A bad var answers every request with a 500 naming it, instead of a crash loop.
 */
function proxyFor(env: Record<string, unknown>): ProxyHandler {
  const known = byEnv.get(env)
  if (known !== undefined) return known
  // The binding is not a var: it is the same object for every env of a deployment.
  const vars = JSON.stringify(Object.values(ENV_NAMES).map((name) => (name === ENV_NAMES.coordinator ? typeof env[name] : env[name])))
  let handler = byVars.get(vars)
  if (handler === undefined) {
    try {
      handler = buildProxy(configFromEnv(env))
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      console.error(`resilient-fetch proxy: bad configuration: ${message}`)
      handler = async () => json(500, { error: 'config', message })
    }
    if (byVars.size >= 32) byVars.delete(byVars.keys().next().value as string)
    byVars.set(vars, handler)
  }
  byEnv.set(env, handler)
  return handler
}

/** The deployable Worker: `main` in wrangler.toml. Configured by `[vars]`; see configFromEnv. */
export default {
  fetch(request: Request, env: Record<string, unknown> | undefined, ctx: WorkerContext | undefined): Promise<Response> {
    return proxyFor(env ?? {})(request, env, ctx)
  },
}
