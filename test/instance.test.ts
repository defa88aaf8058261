import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { CircuitOpenError, createResilientFetch, resilienceInfo, resilientFetch } from '../src/index.js'
import { shareAcrossTabs } from '../src/share/tabs.js'
import { originOf } from '../src/url.js'
import { controlledTransport, flush, statusTransport } from './helpers.js'

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

describe('events', () => {
  it('are CustomEvents dispatched synchronously, before the call settles', async () => {
    const t = statusTransport(200, 500)
    const rf = createResilientFetch({ fetch: t.fetch, retry: false, fallback: false, breaker: { failureThreshold: 1 } })
    const seen: string[] = []
    for (const type of ['success', 'failure', 'statechange', 'reject'] as const) {
      rf.addEventListener(type, (e) => {
        expect(e).toBeInstanceOf(CustomEvent)
        expect(e.detail.key).toBe('https://a.test')
        seen.push(type)
      })
    }
    const first = rf('https://a.test/').then(() => seen.push('settled'))
    await first
    await rf('https://a.test/').then(() => seen.push('settled'))
    await rf('https://a.test/').catch(() => seen.push('rejected'))
    expect(seen).toEqual(['success', 'settled', 'failure', 'statechange', 'settled', 'reject', 'rejected'])
  })

  it('removeEventListener stops delivery', async () => {
    const rf = createResilientFetch({ fetch: statusTransport(200).fetch, fallback: false })
    const listener = vi.fn()
    rf.addEventListener('success', listener)
    await rf('https://a.test/')
    rf.removeEventListener('success', listener)
    await rf('https://a.test/')
    expect(listener).toHaveBeenCalledTimes(1)
  })
})

describe('snapshot', () => {
  it('reports breakers, bulkheads and totals per call', async () => {
    const c = controlledTransport()
    const rf = createResilientFetch({ fetch: c.fetch, retry: false, fallback: false, timeout: false, breaker: { failureThreshold: 2 } })
    const a = rf('https://a.test/')
    const b = rf('https://b.test/')
    await flush()
    const s = rf.snapshot()
    expect(s.at).toBe(Date.now())
    expect(s.bulkheads).toEqual([
      { key: 'https://a.test', active: 1, queued: 0, maxConcurrent: 50, maxQueue: 100, rejected: 0 },
      { key: 'https://b.test', active: 1, queued: 0, maxConcurrent: 50, maxQueue: 100, rejected: 0 },
    ])
    c.pending[0]!.respond(500)
    c.pending[0]!.respond(200)
    await Promise.all([a, b])
    const after = rf.snapshot()
    expect(after.breakers[0]).toEqual({ key: 'https://a.test', state: 'closed', calls: 1, failures: 1, slowCalls: 0, failureRate: 1, rejected: 0, transitions: 0 })
    expect(after.totals).toEqual({ requests: 2, successes: 1, failures: 1, rejected: 0, timeouts: 0, retries: 0, fallbacks: 0, hedges: 0, throttled: 0, coalesced: 0 })
    // a snapshot is a copy
    after.totals.requests = 99
    expect(rf.snapshot().totals.requests).toBe(2)
  })

  it('shows an open breaker turning half-open once its open duration passed, with nextProbeAt', async () => {
    const rf = createResilientFetch({ fetch: statusTransport(500).fetch, retry: false, fallback: false, breaker: { failureThreshold: 1, openDuration: 1000 } })
    await rf('https://a.test/')
    expect(rf.snapshot().breakers[0]).toMatchObject({ state: 'open', openedAt: 1_000_000, nextProbeAt: 1_001_000 })
    vi.advanceTimersByTime(1000)
    expect(rf.snapshot().breakers[0]).toMatchObject({ state: 'half-open' })
  })
})

describe('maxKeys', () => {
  it('keeps at most maxKeys, dropping the least recently used idle key', async () => {
    const c = controlledTransport()
    const rf = createResilientFetch({ fetch: c.fetch, retry: false, fallback: false, timeout: false, maxKeys: 2 })
    const busy = rf('https://a.test/')
    await flush()
    const b = rf('https://b.test/')
    await flush()
    c.pending[1]!.respond(200)
    await b
    const cc = rf('https://c.test/')
    await flush()
    // a is busy, so b (idle) went
    expect(rf.snapshot().bulkheads.map((x) => x.key)).toEqual(['https://a.test', 'https://c.test'])
    expect(rf.breaker('https://b.test')).toBeUndefined()
    c.pending[0]!.respond(200)
    c.pending[0]!.respond(200)
    await Promise.all([busy, cc])
  })

  it('never drops a key whose breaker is not closed: a forced open (an outage switch) holds under key churn', async () => {
    const c = controlledTransport()
    const rf = createResilientFetch({ fetch: c.fetch, retry: false, fallback: false, timeout: false, maxKeys: 2 })
    const first = rf('https://a.test/')
    await flush()
    c.pending[0]!.respond(200)
    await first
    rf.breaker('https://a.test')!.open()
    for (const origin of ['https://b.test/', 'https://c.test/']) {
      const call = rf(origin)
      await flush()
      c.pending.at(-1)!.respond(200)
      await call
    }
    expect(rf.breaker('https://a.test')?.state).toBe('forced-open')
    await expect(rf('https://a.test/')).rejects.toBeInstanceOf(CircuitOpenError)
    // The closed, idle one went instead.
    expect(rf.breaker('https://b.test')).toBeUndefined()
  })
})

describe('resilienceInfo', () => {
  it('is undefined for responses we did not return', () => {
    expect(resilienceInfo(new Response('x'))).toBeUndefined()
  })
})

describe('resilientFetch (the default instance)', () => {
  it('uses globalThis.fetch looked up at call time', async () => {
    const original = globalThis.fetch
    const stub = vi.fn(async () => new Response('from stub'))
    globalThis.fetch = stub as never
    try {
      const response = await resilientFetch('https://default.test/', { resilience: { fallback: false } })
      expect(await response.text()).toBe('from stub')
      expect(stub).toHaveBeenCalledTimes(1)
      expect(resilientFetch.snapshot().totals.requests).toBe(1)
    } finally {
      globalThis.fetch = original
    }
  })
})

describe('originOf', () => {
  it.each([
    'https://a.test/x?y#z',
    'http://a.test',
    'https://a.test?q',
    'https://A.Test/x',
    'https://a.test:443/x',
    'https://a.test:8443/x',
    'http://127.1/x',
    'http://0x7f.1/',
    'https://user:pw@a.test/',
    'https://[::1]:80/',
    'https://xn--bcher-kva.test/',
    'https://bücher.test/',
    'https://a.test./',
  ])('%s agrees with the URL parser', (url) => {
    expect(originOf(url)).toBe(new URL(url).origin)
  })

  it('is undefined for what is not a URL', () => {
    expect(originOf('http://[bad')).toBeUndefined()
    expect(originOf('/relative')).toBeUndefined()
  })
})

describe('errors', () => {
  it('carry a stable name that survives minification, and are ResilienceErrors', async () => {
    const { CircuitOpenError, BulkheadRejectedError, TimeoutError, ResilienceError } = await import('../src/index.js')
    expect(new CircuitOpenError('k', 1).name).toBe('CircuitOpenError')
    expect(new BulkheadRejectedError('k', 1, 2).name).toBe('BulkheadRejectedError')
    expect(new TimeoutError(5, 'total').name).toBe('TimeoutError')
    expect(String(new TimeoutError(5, 'total'))).toBe('TimeoutError: total deadline of 5 ms passed')
    expect(new CircuitOpenError('k', 1)).toBeInstanceOf(ResilienceError)
  })

  it('an open breaker refuses with a rejected promise, never a synchronous throw, and counts it', async () => {
    const rf = createResilientFetch({ fetch: statusTransport(200).fetch, fallback: false })
    await rf('https://a.test/')
    rf.breaker('https://a.test')!.open()
    const rejects: string[] = []
    rf.addEventListener('reject', (e) => rejects.push(e.detail.reason))
    const p = rf('https://a.test/')
    expect(p).toBeInstanceOf(Promise)
    await expect(p).rejects.toMatchObject({ name: 'CircuitOpenError', key: 'https://a.test' })
    expect(rejects).toEqual(['open'])
    expect(rf.snapshot().totals).toMatchObject({ requests: 2, rejected: 1 })
    expect(rf.snapshot().breakers[0]!.rejected).toBe(1)
    // bad input also rejects rather than throws
    const bad = rf('https://a.test/', { resilience: { keys: 1 } as never })
    expect(bad).toBeInstanceOf(Promise)
    await expect(bad).rejects.toThrow(TypeError)
  })
})

describe('rf.breaker(target): a key, a URL string, a URL or a Request (issue 10, the first hour)', () => {
  it('finds the breaker of the key a full URL, a URL or a Request maps to', async () => {
    const t = statusTransport(200)
    const rf = createResilientFetch({ fetch: t.fetch, fallback: false })
    await rf('https://a.test/users/1')
    const control = rf.breaker('https://a.test')!
    expect(control.key).toBe('https://a.test')
    expect(rf.breaker('https://a.test/users/2?x=1#y')).toBe(control)
    expect(rf.breaker(new URL('https://a.test/other'))).toBe(control)
    expect(rf.breaker(new Request('https://a.test/other', { method: 'POST', body: 'kept' }))).toBe(control)
    expect(rf.breaker('https://b.test/users/1')).toBeUndefined()
    expect(rf.breaker('users')).toBeUndefined()
  })

  it('with a key function, a URL or Request finds the key that function gives; a plain key still finds itself', async () => {
    const t = statusTransport(200)
    const rf = createResilientFetch({ fetch: t.fetch, fallback: false, key: (request) => new URL(request.url).pathname.split('/')[1]! })
    await rf('https://a.test/users/1')
    const control = rf.breaker('users')!
    expect(control.key).toBe('users')
    expect(rf.breaker('https://a.test/users/9')).toBe(control)
    expect(rf.breaker(new Request('https://other.test/users'))).toBe(control)
    expect(rf.breaker('https://a.test/orders/1')).toBeUndefined()
  })

  it('a key the share knows is visible before any call here (a tab that loads while another tab holds the breaker open)', () => {
    const openUntil = Date.now() + 10_000
    const share = {
      connect() {},
      initial: (key: string) => (key === 'https://a.test' ? { state: 'open' as const, at: Date.now(), openedAt: Date.now(), openUntil } : undefined),
    }
    const t = statusTransport(200)
    const rf = createResilientFetch({ fetch: t.fetch, fallback: false, share })
    expect(rf.breaker('https://a.test/x')!.state).toBe('open')
    expect(rf.breaker('https://a.test')!.state).toBe('open')
    expect(rf.breaker('https://b.test')).toBeUndefined()
    expect(t.mock).not.toHaveBeenCalled()
  })

  it('with shareAcrossTabs: a reload within another tab\'s open window shows the breaker open before its first call', async () => {
    const map = new Map<string, string>()
    vi.stubGlobal('localStorage', {
      get length() {
        return map.size
      },
      key: (i: number) => [...map.keys()][i] ?? null,
      getItem: (k: string) => map.get(k) ?? null,
      setItem: (k: string, v: string) => void map.set(k, String(v)),
      removeItem: (k: string) => void map.delete(k),
      clear: () => map.clear(),
    })
    const name = `rf-instance-${Math.random().toString(36).slice(2)}`
    const options = { retry: false, fallback: false, timeout: false, breaker: { window: 'consecutive', failureThreshold: 1, openDuration: 10_000 } } as const
    const first = shareAcrossTabs({ name })
    const second = shareAcrossTabs({ name })
    try {
      const one = createResilientFetch({ ...options, fetch: statusTransport(500).fetch, share: first })
      await one('https://a.test/x')
      expect(one.breaker('https://a.test')!.state).toBe('open')
      const reloaded = createResilientFetch({ ...options, fetch: statusTransport(200).fetch, share: second })
      expect(reloaded.breaker('https://a.test/x')?.state).toBe('open')
    } finally {
      first.close()
      second.close()
      vi.unstubAllGlobals()
    }
  })
})
