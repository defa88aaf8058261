import { describe, expect, it } from 'vitest'
import { createResilientFetch } from '../src/index.js'

describe('an option that is a list (retry.methods, retry.statusCodes) is checked item by item', () => {
  it.each([
    ['retry.statusCodes', { statusCodes: [503, 700] }, /^retry\.statusCodes must be an array of HTTP status codes \(100-599\), got \[503, ?700\]/],
    ['retry.methods', { methods: ['GET', ''] }, /^retry\.methods must be an array of method names, got \["GET", ?""\]/],
  ])('%s with one bad item among good ones is refused at creation, as a TypeError naming the option', (_, retry, message) => {
    let thrown: unknown
    try {
      createResilientFetch({ retry: retry as never })
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(TypeError)
    expect((thrown as Error).message).toMatch(message)
  })

  it('a list of good items only is taken', () => {
    expect(() => createResilientFetch({ retry: { methods: ['get', 'PUT'], statusCodes: [503, 429] } })).not.toThrow()
  })
})
