import { createResilientFetch } from './fetch.js'
import type { ResilientFetch } from './types.js'

let instance: ResilientFetch | undefined

/** The default instance, created on first use so importing the package costs nothing. */
export const resilientFetch: ResilientFetch = Object.assign(
  (input: RequestInfo | URL, init?: Parameters<ResilientFetch>[1]) => (instance ??= createResilientFetch())(input, init),
  {
    snapshot: () => (instance ??= createResilientFetch()).snapshot(),
    breaker: (target: Parameters<ResilientFetch['breaker']>[0]) => (instance ??= createResilientFetch()).breaker(target),
    addEventListener: ((type: string, listener: never, options?: never) =>
      (instance ??= createResilientFetch()).addEventListener(type as never, listener, options)) as ResilientFetch['addEventListener'],
    removeEventListener: ((type: string, listener: never, options?: never) =>
      (instance ??= createResilientFetch()).removeEventListener(type as never, listener, options)) as ResilientFetch['removeEventListener'],
    clear: () => (instance ??= createResilientFetch()).clear(),
  },
)
