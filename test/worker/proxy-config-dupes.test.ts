// Three configurations the proxy took without a word and then misbehaved on, refused at startup as every bad var is
// (a 500 naming the var on every request, the log line saying what is wrong): a pool listing one origin twice, two
// ROUTES keys that are one prefix, and a HEDGE_MS no hedge can wait for.
import { describe, expect, inject, it, vi } from 'vitest'
import worker from '../../src/worker/index.js'

const [A, B] = inject('sharedUpstreamUrls')
const hits = async (path: string) => Number(await (await fetch(`${A}/__hits?path=${encodeURIComponent(path)}`)).text())

/** The Worker's answer for `path` with these vars, and what it logged as a configuration error. */
async function answer(env: Record<string, unknown>, path: string): Promise<{ status: number; body: unknown; logged: string }> {
  const logged = vi.spyOn(console, 'error').mockImplementation(() => {})
  try {
    const response = await worker.fetch(new Request(`http://proxy.test${path}`), env, undefined)
    return { status: response.status, body: await response.json(), logged: logged.mock.calls.flat().join('\n') }
  } finally {
    logged.mockRestore()
  }
}

describe('a ROUTES pool that lists one origin twice', () => {
  // The retry after a failure went back to the origin that had just failed: two requests to it, and no other origin asked.
  it.each([
    ['with and without a trailing slash', (run: string) => [`${A}/${run}`, `${A}/${run}/`]],
    ['with two base paths', (run: string) => [`${A}/${run}`, `${A}/${run}/other`]],
  ])('%s is refused at startup, naming ROUTES, and nothing reaches the origin', async (_, pool) => {
    const run = `dupe-origin-${crypto.randomUUID()}`
    await fetch(`${A}/__down?path=${encodeURIComponent(`/${run}/x`)}`)
    const { status, body, logged } = await answer({ ROUTES: JSON.stringify({ '/api/': pool(run) }) }, '/api/x')
    expect([status, body]).toEqual([500, { error: 'config', var: 'ROUTES' }])
    expect(logged).toContain(`ROUTES["/api/"] must list each origin once (a retry or a hedge goes to another origin), got "${A}/" twice`)
    expect(await hits(`/${run}/x`)).toBe(0)
  })
})

describe('two ROUTES keys that are one prefix', () => {
  // "/dup" is the prefix "/dup/": the key written first took every request, the other route was never used.
  it('"/dup" and "/dup/" are refused at startup, naming ROUTES', async () => {
    const run = `dupe-prefix-${crypto.randomUUID()}`
    const { status, body, logged } = await answer({ ROUTES: JSON.stringify({ '/dup': `${A}/${run}/first`, '/dup/': `${B}/${run}/second` }) }, '/dup/x')
    expect([status, body]).toEqual([500, { error: 'config', var: 'ROUTES' }])
    expect(logged).toContain('ROUTES keys must be distinct prefixes, got "/dup" and "/dup/", both the prefix "/dup/"')
    expect(await hits(`/${run}/first/x`)).toBe(0)
  })
})

describe('HEDGE_MS not below the attempt timeout, with a pool', () => {
  // The attempt times out first and the retry takes the second origin: the hedge never starts.
  it.each([
    [{ HEDGE_MS: '2000' }, 'HEDGE_MS must be less than TIMEOUT_MS (2000 ms), as an attempt has timed out before its hedge would start, got 2000'],
    [{ HEDGE_MS: '5000', TIMEOUT_MS: '' }, 'HEDGE_MS must be less than TIMEOUT_MS (2000 ms), as an attempt has timed out before its hedge would start, got 5000'],
    [{ HEDGE_MS: '300', TIMEOUT_MS: '250' }, 'HEDGE_MS must be less than TIMEOUT_MS (250 ms), as an attempt has timed out before its hedge would start, got 300'],
  ])('%j is refused at startup, naming HEDGE_MS', async (vars, message) => {
    const run = `hedge-${crypto.randomUUID()}`
    const { status, body, logged } = await answer({ ROUTES: JSON.stringify({ '/api/': [`${A}/${run}`, `${B}/${run}`] }), ...vars }, '/api/x')
    expect([status, body]).toEqual([500, { error: 'config', var: 'HEDGE_MS' }])
    expect(logged).toContain(message)
    expect(await hits(`/${run}/x`)).toBe(0)
  })

  it('one ms below it is taken, and the proxy answers', async () => {
    const run = `hedge-${crypto.randomUUID()}`
    const { status, body } = await answer({ ROUTES: JSON.stringify({ '/api/': [`${A}/${run}`, `${B}/${run}`] }), HEDGE_MS: '1999' }, '/api/x')
    expect([status, body]).toEqual([200, { user: null, path: `/${run}/x` }])
  })
})
