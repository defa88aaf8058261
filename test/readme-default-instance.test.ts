/**
 * README "Use": "`resilientFetch` is a ready-made default instance": every method of an instance is there, and all
 * reach one instance (its events, breakers, snapshot and store), on globalThis.fetch looked up at call time.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { CircuitOpenError, resilienceInfo, resilientFetch } from '../src/index.js'

const original = globalThis.fetch
afterEach(() => {
  globalThis.fetch = original
})

describe('README: resilientFetch, the default instance', () => {
  it('its events, breaker(), snapshot() and clear() are those of the instance its calls go through', async () => {
    let status = 200
    const transport = vi.fn(async () => new Response(`s${status}`, { status }))
    globalThis.fetch = transport as never
    const seen: string[] = []
    const onSuccess = (event: CustomEvent<{ key: string }>) => seen.push(`success ${event.detail.key}`)
    resilientFetch.addEventListener('success', onSuccess)
    resilientFetch.addEventListener('fallback', () => seen.push('fallback'))

    const first = await resilientFetch('https://default.test/a')
    expect(await first.text()).toBe('s200')
    expect(seen).toEqual(['success https://default.test'])
    const control = resilientFetch.breaker('https://default.test')
    expect(control?.state).toBe('closed')

    // The copy the first call left (written in the background) answers a failure.
    status = 500
    await vi.waitFor(async () => {
      const answer = await resilientFetch('https://default.test/a', { resilience: { retry: false } })
      expect(resilienceInfo(answer)?.source).toBe('fallback')
    })
    expect(seen).toContain('fallback')

    // Once cleared, no copy: the failure itself.
    await resilientFetch.clear()
    const after = await resilientFetch('https://default.test/a', { resilience: { retry: false } })
    expect(after.status).toBe(500)

    // The breaker found is the one calls pass: opened by hand, the next call is refused without a request.
    resilientFetch.removeEventListener('success', onSuccess)
    control!.open(60_000)
    const calls = transport.mock.calls.length
    await expect(resilientFetch('https://default.test/b', { resilience: { fallback: false } })).rejects.toBeInstanceOf(CircuitOpenError)
    expect(transport.mock.calls.length).toBe(calls)
    control!.close()
    status = 200
    await resilientFetch('https://default.test/c')
    expect(seen.filter((line) => line.startsWith('success'))).toEqual(['success https://default.test'])
    expect(resilientFetch.snapshot().breakers).toMatchObject([{ key: 'https://default.test', state: 'closed' }])
  })
})
