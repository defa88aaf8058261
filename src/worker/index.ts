import { configFromEnv, ENV_NAMES, type ConfigError } from './config.js'
import { buildProxy, json, type ProxyHandler, type WorkerContext } from './proxy.js'

export { createProxy } from './proxy.js'
export { configFromEnv } from './config.js'
export type { ProxyConfig } from './config.js'
export type { FallbackKind, Health, ProxyHandler, WorkerContext } from './proxy.js'
export { durableObjectShare } from './share.js'
export type { CoordinatorNamespace, DurableObjectShare, DurableObjectShareOptions } from './share.js'
export { BreakerCoordinator } from './coordinator.js'
export type { CoordinatorContext } from './coordinator.js'

const byEnv = new WeakMap<object, ProxyHandler>()
const byVars = new Map<string, ProxyHandler>()

/** Bindings are not vars: each is the same object for every env of a deployment. */
const BINDINGS: ReadonlySet<string> = new Set([ENV_NAMES.coordinator, ENV_NAMES.lastKnownGood])

/**
 * The proxy for this env, built on first use and kept for the isolate's life (its breakers live in
 * memory). Keyed by the env object, and by the vars' values in case a runtime hands a new env object
 * per request. A bad var answers every request with a 500 naming it (never its value, which may be
 * a secret: that goes to the log, redacted), instead of a crash loop.
 */
function proxyFor(env: Record<string, unknown>): ProxyHandler {
  const known = byEnv.get(env)
  if (known !== undefined) return known
  const vars = JSON.stringify(Object.values(ENV_NAMES).map((name) => (BINDINGS.has(name) ? typeof env[name] : env[name])))
  let handler = byVars.get(vars)
  if (handler === undefined) {
    try {
      handler = buildProxy(configFromEnv(env))
    } catch (error) {
      // configFromEnv's messages show a var's value redacted.
      console.error(`resilient-fetch proxy: bad configuration: ${error instanceof Error ? error.message : 'unknown error'}`)
      const option = (error as Partial<ConfigError> | null)?.option
      const body = typeof option === 'string' ? { error: 'config', var: option } : { error: 'config' }
      handler = async () => json(500, body)
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
