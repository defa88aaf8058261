import type { ServerResponse } from 'node:http'
import { createResilientFetch } from '../src/index.js'
import { tailServer } from './tail-server.js'

/**
 * A recovered but slow upstream on 127.0.0.1 (tailServer) for a half-open breaker's probes (hedge-probe-server.test.ts,
 * leak-hedge.test.ts): the first request after the warm-up (the first probe) is answered by `slow` only once the test
 * calls `answerSlow` (a call that waited for it would hang); every other request answers 200 'fast' at once. And an
 * instance hedged after `delay` (no budget) with no retry or fallback, whose breaker (consecutive, one failure opens it
 * for 100 ms, half-open with two probes and two successes to close) the warm-up made: the caller opens it.
 */
export async function slowProbe(delay: number, slow: (res: ServerResponse) => void) {
  let answerSlow!: () => void
  const slowMayAnswer = new Promise<void>((resolve) => (answerSlow = resolve))
  const server = await tailServer((_req, res, seen) => {
    if (server.seen.indexOf(seen) !== 1) return void res.writeHead(200).end('fast')
    void slowMayAnswer.then(() => !res.destroyed && slow(res))
  })
  const rf = createResilientFetch({
    hedge: { delay, budget: false },
    retry: false,
    fallback: false,
    timeout: { attempt: 5_000 },
    breaker: { window: 'consecutive', failureThreshold: 1, openDuration: 100, halfOpen: { probes: 2, successesToClose: 2 } },
  })
  // Not hedged: on a loaded machine the first connection may take longer than the hedge delay, and a hedge here would be a request more.
  await (await rf(`${server.origin}/warm`, { resilience: { hedge: false } })).text()
  return { server, rf, breaker: rf.breaker(server.origin)!, answerSlow }
}
