/** isStoredResponse at its edges: the status range's ends, a statusText that is no string, every header checked (not just one), each part of a header pair, and a Vary record's every pair. */
import { describe, expect, it } from 'vitest'
import { isStoredResponse, varyRecordOf } from '../src/store/backend.js'
import { entry } from './store/helpers.js'

const vary = (record: unknown) => encodeURIComponent(JSON.stringify(record))

describe('isStoredResponse', () => {
  it('takes statuses 200 to 599, both ends included', () => {
    expect(isStoredResponse(entry('x', { status: 599 }))).toBe(true)
    expect(isStoredResponse(entry('x', { status: 600 }))).toBe(false)
  })

  it('refuses a statusText that is not a string, though its text would pass', () => {
    expect(isStoredResponse(entry('x', { statusText: 200 as never }))).toBe(false)
  })

  it('refuses an entry with one bad header among good ones', () => {
    expect(isStoredResponse(entry('x', { headers: [['x-a', '1'], ['bad header', '2']] }))).toBe(false)
  })

  it('refuses a header that is not a pair of strings', () => {
    for (const header of ['xy', ['x-a', 'b', 'c'], [1, 'x'], ['x-a', 1], ['x-a', null]]) {
      expect(isStoredResponse(entry('x', { headers: [header as never] }))).toBe(false)
    }
    expect(isStoredResponse(entry('x', { headers: [['x-a', '']] }))).toBe(true)
  })

  it('refuses a Vary record with one pair whose value is neither a string nor null', () => {
    expect(isStoredResponse(entry('x', { headers: [['x-resilient-vary', vary([['accept', 'a'], ['x-b', 5]])]] }))).toBe(false)
    expect(isStoredResponse(entry('x', { headers: [['x-resilient-vary', vary([['accept', 5]])]] }))).toBe(false)
    expect(isStoredResponse(entry('x', { headers: [['x-resilient-vary', vary([['accept', 'a'], ['x-b', null]])]] }))).toBe(true)
  })
})

describe('varyRecordOf', () => {
  it('gives the pairs of a whole record, undefined for one that is not an array of pairs', () => {
    expect(varyRecordOf(vary([['accept', 'a'], ['x-b', null]]))).toEqual([['accept', 'a'], ['x-b', null]])
    expect(varyRecordOf(vary([['accept', 'a'], 'x-b']))).toBeUndefined()
    expect(varyRecordOf(vary({ accept: 'a' }))).toBeUndefined()
    expect(varyRecordOf('%E0%A4%A')).toBeUndefined()
  })
})
