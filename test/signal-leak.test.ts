import { getEventListeners } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createResilientFetch } from '../src/index.js'
import { follow } from '../src/deadline.js'
import { collect, gc, readerOnly, streamingUpstream, within } from './gc-helpers.js'

/** How `promise` settled, awaited without a bound (an abort or a close that must come; the test's timeout bounds it). */
const settled = (promise: Promise<unknown>) => promise.then((value) => ({ value }), (error: unknown) => ({ error }))

/** That `promise` rejects with `reason` itself; awaited without a bound (else the abort never arrived: the test times out). */
async function expectRejectsWith(promise: Promise<unknown>, reason: Error): Promise<void> {
  const result = await settled(promise)
  expect(result).toEqual({ error: reason })
  expect((result as { error: unknown }).error).toBe(reason)
}

let server: Server
let origin: string
beforeAll(async () => {
  server = createServer((_req, res) => res.end('ok'))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => {
  server.closeAllConnections()
  server.close()
})

/** Abort listeners still on `signal` after 100 finished calls and a few garbage collections. */
async function listenersLeft(f: typeof fetch): Promise<number> {
  const controller = new AbortController()
  for (let i = 0; i < 100; i++) await (await f(`${origin}/ok`, { signal: controller.signal })).text()
  for (let i = 0; i < 5; i++) {
    gc()
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  // EventTarget prunes collected weak listeners lazily, on the next add/remove.
  const noop = () => {}
  controller.signal.addEventListener('abort', noop)
  controller.signal.removeEventListener('abort', noop)
  return getEventListeners(controller.signal, 'abort').length
}

it('a long-lived caller signal does not keep one abort listener per finished call (fetch does not)', async () => {
  expect(await listenersLeft(fetch)).toBeLessThan(10)
  expect(await listenersLeft(createResilientFetch({ fallback: false }))).toBeLessThan(10)
}, 60_000) // 200 real requests and ten full GCs: slow on a loaded machine, and no figure here is a time

it("after a GC, the caller's signal still aborts a body that is still streaming", async () => {
  const slow = createServer((_req, res) => {
    res.writeHead(200)
    res.write('first')
    // never ends on its own
  })
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve))
  try {
    const rf = createResilientFetch({ fallback: false, timeout: { attempt: 5_000, total: 10_000 } })
    const controller = new AbortController()
    const response = await rf(`http://127.0.0.1:${(slow.address() as AddressInfo).port}/`, { signal: controller.signal })
    const reader = response.body!.getReader()
    await reader.read()
    for (let i = 0; i < 5; i++) {
      gc()
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    controller.abort(new Error('left the page'))
    await expect(reader.read()).rejects.toThrow('left the page')
  } finally {
    slow.closeAllConnections()
    slow.close()
  }
})

for (const [name, options] of [
  ['the default stages', { fallback: false }],
  ['hedged calls', { fallback: false, hedge: { delay: 5_000 } }],
  ['coalesced calls', { fallback: false, coalesce: true }],
] as const) {
  it(`${name}: a long-lived caller signal does not keep the controllers of calls whose bodies were read`, async () => {
    const sent: WeakRef<AbortSignal>[] = []
    const spy: typeof fetch = (input, init) => {
      sent.push(new WeakRef(init!.signal!))
      return fetch(input, init)
    }
    const rf = createResilientFetch({ ...options, fetch: spy })
    const controller = new AbortController()
    for (let i = 0; i < 20; i++) await (await rf(`${origin}/ok`, { signal: controller.signal })).text()
    await collect()
    expect(sent).toHaveLength(20)
    expect(sent.filter((ref) => ref.deref() !== undefined)).toHaveLength(0)
  })
}

/**
 * Whether the Response goes at the GC: a coalesced caller's own controller, kept with its body, keeps (through
 * its abort listener and the caller's settled promise) the Response too, as long as the body and no longer.
 */
const BODY_ONLY = [
  ['the default stages', { fallback: false }, true],
  // The fallback keeps a clone: the caller's body is then a branch of a tee over the transport's.
  ['the default options, fallback included', {}, true],
  ['a hedged call', { fallback: false, hedge: { delay: 5_000 } }, true],
  ['a coalesced call', { fallback: false, coalesce: true }, false],
] as const

for (const [name, options, responseGoes] of BODY_ONLY) {
  it(`${name}: after a GC, the caller's abort still ends a body of which it keeps only the reader, and closes the connection`, async () => {
    const upstream = await streamingUpstream()
    try {
      const rf = createResilientFetch(options)
      const controller = new AbortController()
      const { reader, response } = await readerOnly(rf, upstream.url, controller.signal)
      await collect()
      if (responseGoes) expect(response.deref()).toBeUndefined()
      const reason = new Error('left the page')
      controller.abort(reason)
      await expectRejectsWith(reader.read(), reason)
      expect(upstream.closed).toHaveLength(1)
      expect(await settled(upstream.closed[0]!)).toEqual({ value: undefined })
    } finally {
      upstream.close()
    }
  }, 20_000)
}

it("the caller's abort still ends a body it only pipes (the Response was collected)", async () => {
  const upstream = await streamingUpstream()
  try {
    const rf = createResilientFetch({ fallback: false })
    const controller = new AbortController()
    const piped = async () => {
      const response = await rf(upstream.url, { signal: controller.signal })
      return { pipe: response.body!.pipeTo(new WritableStream()), response: new WeakRef(response) }
    }
    const { pipe, response } = await piped()
    await new Promise((resolve) => setTimeout(resolve, 50))
    await collect()
    expect(response.deref()).toBeUndefined()
    const reason = new Error('left the page')
    controller.abort(reason)
    await expectRejectsWith(pipe, reason)
    expect(await settled(upstream.closed[0]!)).toEqual({ value: undefined })
  } finally {
    upstream.close()
  }
}, 20_000)

it("two coalesced callers keeping only their readers: each one's abort ends its own copy, the last one's closes the connection", async () => {
  const upstream = await streamingUpstream()
  try {
    const rf = createResilientFetch({ fallback: false, coalesce: true })
    const [a, b] = [new AbortController(), new AbortController()]
    const [first, second] = await Promise.all([readerOnly(rf, upstream.url, a.signal), readerOnly(rf, upstream.url, b.signal)])
    expect(upstream.closed).toHaveLength(1)
    await collect()
    const reasonA = new Error('a left')
    a.abort(reasonA)
    await expectRejectsWith(first.reader.read(), reasonA)
    expect(await within(upstream.closed[0]!, 200)).toBe('pending')
    const reasonB = new Error('b left')
    b.abort(reasonB)
    await expectRejectsWith(second.reader.read(), reasonB)
    expect(await settled(upstream.closed[0]!)).toEqual({ value: undefined })
  } finally {
    upstream.close()
  }
}, 20_000)

// A signal made per call keeps nothing alive once its call is over: `AbortSignal.any([pageSignal, ...])` or
// `AbortSignal.timeout(ms)`. Such a signal is kept alive by its runtime while it has an abort listener and its sources
// (or its timer) are still live, so a listener of ours left on it kept every one of them, one per call, for the page's
// life. fetch lets each go once its request is collected; so do we, once the attempt's controller is.
const CALLS = 100

/** How many of the per-call signals `signalFor` makes are collected after CALLS finished calls and a few GCs. */
async function collectedOf(f: typeof fetch, signalFor: () => AbortSignal): Promise<number> {
  let collected = 0
  const registry = new FinalizationRegistry(() => void collected++)
  for (let i = 0; i < CALLS; i++) {
    const signal = signalFor()
    registry.register(signal, i)
    expect(await (await f(`${origin}/`, { signal })).text()).toBe('ok')
  }
  // A finalizer may drop a listener whose signal is then collected only at the next GC.
  for (let i = 0; i < 3; i++) await collect()
  return collected
}

const page = new AbortController()
const perCall: [string, () => AbortSignal][] = [
  ['AbortSignal.any([pageSignal])', () => AbortSignal.any([page.signal])],
  ['AbortSignal.timeout(60 s)', () => AbortSignal.timeout(60_000)],
]

it.each(perCall)('a signal made per call, %s, is let go once its call is over, as fetch lets it go (real server)', async (_, signalFor) => {
  // fetch's own figure on this machine: the bar we are held to.
  const byFetch = await collectedOf(fetch, signalFor)
  expect(byFetch).toBeGreaterThan(CALLS * 0.9)
  expect(await collectedOf(createResilientFetch({ fallback: false }), signalFor)).toBeGreaterThan(CALLS * 0.9)
}, 60_000) // 200 real requests and fifteen full GCs each: slow on a loaded machine, and no figure here is a time

it("the page's signal still aborts a call in flight and the body of a call answered, after others' controllers were collected", async () => {
  const signal = page.signal
  const first = new AbortController()
  follow(signal, first)
  // Followers that come and go, collected: the signal's listener must stay for those still here.
  for (let i = 0; i < 10; i++) follow(signal, new AbortController())
  await collect()
  const second = new AbortController()
  const unfollow = follow(signal, second)
  unfollow()
  gc()
  const reason = new Error('left the page')
  expect(first.signal.aborted).toBe(false)
  page.abort(reason)
  expect(first.signal.reason).toBe(reason)
  expect(second.signal.aborted).toBe(false)
})
