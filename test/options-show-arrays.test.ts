/**
 * An error naming a bad array option shows the array's items as they were given: JSON alone would show NaN, Infinity or
 * undefined in it as null (`got [503,null]` for a status code parsed from bad text), pointing away from the mistake.
 */
import { expect, it } from 'vitest'
import { createResilientFetch } from '../src/index.js'

it.each([
  [{ retry: { statusCodes: [503, NaN] } }, 'retry.statusCodes must be an array of HTTP status codes (100-599), got [503,NaN]'],
  [{ retry: { statusCodes: [503, Infinity] } }, 'retry.statusCodes must be an array of HTTP status codes (100-599), got [503,Infinity]'],
  [{ retry: { methods: ['GET', undefined] } }, 'retry.methods must be an array of method names, got ["GET",undefined]'],
  [{ hedge: { methods: ['GET', ' HEAD'] } }, 'hedge.methods must be an array of method names, got ["GET"," HEAD"]'],
  [{ retry: { statusCodes: [503, { code: 504 }] } }, 'retry.statusCodes must be an array of HTTP status codes (100-599), got [503,{"code":504}]'],
])('%j: the message shows each item as given', (options, message) => {
  expect(() => createResilientFetch(options as never)).toThrow(message)
})

it('an array holding itself is shown at once, its inner self by kind', () => {
  const codes: unknown[] = [503]
  codes.push(codes)
  expect(() => createResilientFetch({ retry: { statusCodes: codes as never } })).toThrow(
    'retry.statusCodes must be an array of HTTP status codes (100-599), got [503,[object Array]]',
  )
})
