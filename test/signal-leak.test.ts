import { getEventListeners } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import v8 from 'node:v8'
import vm from 'node:vm'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createResilientFetch } from '../src/index.js'

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

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
