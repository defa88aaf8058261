/** One hedged call, as the page and its dedicated Worker make it: what the caller sees of it. */
import { createResilientFetch, resilienceInfo } from '../../../src/index.js'

export interface Ask {
  url: string
  /** The input: the URL, or a Request of it built with `request` (its own cache mode, say). */
  input: 'url' | 'request'
  request?: RequestInit
  init?: RequestInit
}

export interface Answer {
  status?: number
  body?: string
  hedged?: boolean
  attempts?: number
  timeouts?: number
  hedges?: number
  error?: string
}

/** The call `ask` says. */
export function hedgedCall({ url, input, request, init }: Ask): Promise<Answer> {
  return hedged(input === 'request' ? new Request(url, request) : url, init)
}

/** A hedge after 100 ms; the first attempt's deadline (3 s) is far: a hedge answered before it beat the first attempt. */
export async function hedged(input: RequestInfo, init?: RequestInit): Promise<Answer> {
  const rf = createResilientFetch({ retry: false, fallback: false, breaker: false, hedge: { delay: 100 }, timeout: { attempt: 3_000, total: 5_000 } })
  try {
    const response = await rf(input, init)
    const info = resilienceInfo(response)
    const { totals } = rf.snapshot()
    return { status: response.status, body: await response.text(), hedged: info?.hedged === true, attempts: info?.attempts, timeouts: totals.timeouts, hedges: totals.hedges }
  } catch (error) {
    return { error: String(error) }
  }
}
