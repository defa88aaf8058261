import type { ResilienceInfo } from './types.js'

/** Each returned response's info; tagged through `tag`, or set directly on the hot path. */
export const infos = new WeakMap<Response, ResilienceInfo>()

/** How a response returned by a resilient fetch came to be: from the network or from the fallback store. */
export function resilienceInfo(response: Response): ResilienceInfo | undefined {
  return infos.get(response)
}

export function tag(response: Response, info: ResilienceInfo): void {
  infos.set(response, info)
}
