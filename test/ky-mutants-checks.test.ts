/** What resilientKy refuses, and what it lets through: its own options, ky's hooks, and every method's options. */
import { describe, expect, it } from 'vitest'
import { resilientKy } from '../src/integrations/ky.js'

const ORIGIN = 'https://api.ky.test'

/** An instance over a transport that answers 200 to everything. */
const make = () => resilientKy({ fetch: async () => new Response('{}'), fallback: false, ky: { prefixUrl: ORIGIN } })

describe('resilientKy options', () => {
  it.each([null, 'x'])('%j as the options is refused, named', (options) => {
    expect(() => resilientKy(options as never)).toThrow(new TypeError(`resilientKy options must be an object, got ${String(options)}`))
  })

  it('ky: null is refused, named', () => {
    expect(() => resilientKy({ ky: null as never })).toThrow(new TypeError('ky must be an object of ky options, got null'))
  })
})

describe("ky's beforeRetry hooks", () => {
  it('given, are refused with the reason', () => {
    expect(() => resilientKy({ ky: { hooks: { beforeRetry: [() => {}] } } })).toThrow(
      new TypeError("ky.hooks.beforeRetry must be left empty: ky's retry is off, so they would never run (retries are the retry option; the resilient fetch's 'retry' event reports each)"),
    )
    expect(() => resilientKy({ ky: { hooks: { beforeRetry: {} as never } } })).toThrow(/^ky\.hooks\.beforeRetry must be left empty/)
  })

  it('empty, are let through', async () => {
    const api = resilientKy({ fetch: async () => new Response('{}'), fallback: false, ky: { prefixUrl: ORIGIN, hooks: { beforeRetry: [] } } })
    expect(await api.get('a').json()).toEqual({})
  })
})

describe('each method', () => {
  it.each(['get', 'post', 'put', 'patch', 'head', 'delete'] as const)("%s refuses ky's own retry in a call's options", (method) => {
    expect(() => make()[method]('a', { retry: 2 })).toThrow(/^options\.retry must be left unset/)
  })
})

describe('extend with a function', () => {
  it('that does not spread its parent (no fetch of its own) is taken', async () => {
    const api = make().extend(() => ({ prefixUrl: ORIGIN, headers: { 'x-a': '1' } }))
    expect(await api.get('a').json()).toEqual({})
  })
})
