import { afterEach, describe, expect, it } from 'vitest'
import { createResilientFetch } from '../src/index.js'
import { normalizeOptions } from '../src/options.js'
import { tailServer } from './tail-server.js'

let server: Awaited<ReturnType<typeof tailServer>> | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

/** The error createResilientFetch(options) throws. */
function thrown(options: object): Error {
  try {
    createResilientFetch(options as never)
  } catch (error) {
    return error as Error
  }
  throw new Error('no error')
}

describe('retry.methods and hedge.methods hold HTTP method names (tokens), never a list in one string', () => {
  it.each([
    ['a list split on ", "', { retry: { methods: 'GET, HEAD'.split(',') } }, 'retry.methods must be an array of method names, got ["GET"," HEAD"]'],
    ['two methods in one string', { retry: { methods: ['GET,HEAD'] } }, 'retry.methods must be an array of method names, got ["GET,HEAD"]'],
    ['a trailing space', { retry: { methods: ['PUT '] } }, 'retry.methods must be an array of method names, got ["PUT "]'],
    ['hedge.methods', { hedge: { methods: ['GET HEAD'] } }, 'hedge.methods must be an array of method names, got ["GET HEAD"]'],
  ])('%s is refused at creation with a TypeError naming the option and the value (it would match no call)', (_name, options, message) => {
    const error = thrown(options)
    expect(error).toBeInstanceOf(TypeError)
    expect(error.message).toBe(message)
  })

  it('every method name is taken, upper-cased: extension methods too', () => {
    const o = normalizeOptions({ retry: { methods: ['get', 'PATCH', 'M-SEARCH', 'propfind'] }, hedge: { methods: ['get'] } })
    expect(o.retry && [...o.retry.methods]).toEqual(['GET', 'PATCH', 'M-SEARCH', 'PROPFIND'])
    expect(o.hedge && [...o.hedge.methods]).toEqual(['GET'])
  })

  it('per call, against a real server on 127.0.0.1: refused before anything is sent, naming resilience.retry.methods', async () => {
    server = await tailServer((_req, res) => void res.writeHead(200).end('ok'))
    const rf = createResilientFetch({ fallback: false })
    await expect(rf(`${server.origin}/x`, { resilience: { retry: { methods: ['GET', ' HEAD'] } } })).rejects.toThrow(
      new TypeError('resilience.retry.methods must be an array of method names, got ["GET"," HEAD"]'),
    )
    expect(server.seen).toHaveLength(0)
    expect(await (await rf(`${server.origin}/x`, { resilience: { retry: { methods: ['get'] } } })).text()).toBe('ok')
  })
})
