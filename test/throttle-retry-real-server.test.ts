/**
 * README "Adaptive throttling": "A shed attempt rejects with ThrottledError (key, probability), is not retried",
 * held against a real node:http server on 127.0.0.1 with retries on: a call shed at its first attempt sends nothing
 * and makes no retry; a call whose retry is shed ends with the 503 it had, and is not retried after it.
 */
import { describe, expect, it } from 'vitest'
import { ThrottledError, createResilientFetch, resilienceInfo } from '../src/index.js'
import { tailServerEachTest } from './tail-server.js'

const { start } = tailServerEachTest()

describe('adaptive throttling with retries on, against a real server on 127.0.0.1', () => {
  it('a shed attempt is never retried: shed first, nothing is sent; shed on a retry, the call ends with the 503 it had', async () => {
    const s = await start((_req, res) => void res.writeHead(503).end('down'))
    const rf = createResilientFetch({ throttle: {}, retry: { limit: 3, backoff: { base: 1, max: 1 }, budget: false }, breaker: false, fallback: false })
    let retries = 0
    let throttleEvents = 0
    rf.addEventListener('retry', () => retries++)
    rf.addEventListener('throttle', () => throttleEvents++)
    const shedFirst: ThrottledError[] = []
    let shedOnRetry = 0
    // p reaches maxRejectRate 0.9 within a few calls: fewer than three sheds of each kind in 60 calls has odds far below 1e-9.
    for (let i = 0; i < 60 && (shedFirst.length < 3 || shedOnRetry < 3); i++) {
      const [sent, retried, shed] = [s.seen.length, retries, throttleEvents]
      const outcome = await rf(`${s.origin}/down`).then(
        async (response) => ({ response, text: await response.text() }),
        (error: unknown) => ({ error }),
      )
      const [attempts, retriedNow, shedNow] = [s.seen.length - sent, retries - retried, throttleEvents - shed]
      if ('error' in outcome) {
        expect(outcome.error).toBeInstanceOf(ThrottledError)
        // Shed at once: nothing sent, no retry, one shed.
        expect({ attempts, retriedNow, shedNow }).toEqual({ attempts: 0, retriedNow: 0, shedNow: 1 })
        shedFirst.push(outcome.error as ThrottledError)
        continue
      }
      expect([outcome.response.status, outcome.text]).toEqual([503, 'down'])
      // Each attempt that reached the server was one request; the retries were of those, none of a shed attempt.
      expect({ info: resilienceInfo(outcome.response)?.attempts, retriedNow }).toEqual({ info: attempts, retriedNow: attempts - 1 + shedNow })
      if (shedNow > 0) {
        // Its last retry was shed: one shed, and no retry after it (the limit allows more).
        expect(shedNow).toBe(1)
        expect(attempts).toBeLessThan(4)
        shedOnRetry++
      }
    }
    expect(shedFirst.length).toBeGreaterThanOrEqual(3)
    expect(shedOnRetry).toBeGreaterThanOrEqual(3)
    for (const error of shedFirst) {
      expect(error.key).toBe(s.origin)
      expect(error.probability).toBeGreaterThan(0)
      expect(error.probability).toBeLessThanOrEqual(0.9)
    }
  }, 30_000) // many real requests: slow on a loaded machine, and no figure here is a time
})
