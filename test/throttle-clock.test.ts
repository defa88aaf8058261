import { afterEach, describe, expect, it, vi } from 'vitest'
import { AdaptiveThrottle } from '../src/stages/throttle.js'
import { LOW, NORMAL } from '../src/priority.js'
import { ThrottledError, createResilientFetch } from '../src/index.js'
import { tailServer } from './tail-server.js'

const options = { k: 2, window: 120_000, maxRejectRate: 0.9 }
const HOUR = 3_600_000

let server: Awaited<ReturnType<typeof tailServer>> | undefined
afterEach(async () => {
  vi.useRealTimers()
  await server?.close()
  server = undefined
})

describe('the throttle when the wall clock is set back', () => {
  it('counts only the window up to now: history from a future the clock was set back from sheds nothing', () => {
    const t = new AdaptiveThrottle(options)
    for (let i = 0; i < 100; i++) t.settle(10 * HOUR, false)
    expect(t.probability(10 * HOUR, NORMAL)).toBe(0.9)
    // An hour back (NTP, a user fixing the device's clock): the failures are not in the last 120 s.
    expect(t.probability(9 * HOUR, NORMAL)).toBe(0)
    expect(t.decide(9 * HOUR, LOW, () => 0)).toBe(0)
    // A step back within the window still sees what is older than now.
    for (let i = 0; i < 100; i++) t.settle(9 * HOUR + 60_000, false)
    expect(t.probability(9 * HOUR + 60_000, NORMAL)).toBe(0.9)
  })

  it('against a real server on 127.0.0.1: an upstream back up after the clock stepped back an hour gets every call', async () => {
    let down = true
    server = await tailServer((_req, res) => void res.writeHead(down ? 503 : 200).end('x'))
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.UTC(2026, 5, 1, 12))
    const rf = createResilientFetch({ throttle: {}, retry: false, breaker: false, fallback: false })
    const send = async (n: number) => {
      let throttled = 0
      for (let i = 0; i < n; i++) {
        try {
          await (await rf(`${server!.origin}/x`, { resilience: { priority: 'low' } })).arrayBuffer()
        } catch (error) {
          if (!(error instanceof ThrottledError)) throw error
          throttled++
        }
      }
      return throttled
    }
    expect(await send(40)).toBeGreaterThan(0)
    down = false
    vi.setSystemTime(Date.UTC(2026, 5, 1, 11))
    expect(await send(30)).toBe(0)
    expect(server.seen.length).toBeLessThan(70)
  })
})
