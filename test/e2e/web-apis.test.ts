/**
 * The Chromium the tests launch (on a bare machine: the npm-packaged one) has every Web API the library and its
 * stores rely on, on a 127.0.0.1 page: IndexedDB, the Cache API, BroadcastChannel and Web Locks.
 */
import { existsSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { SYSTEM_CHROMIUM } from '../../scripts/chromium.mjs'
import { closeServer, findChromium, launchChromium, listen, openPage } from './harness.js'

let browser: Browser
let server: Server
let origin: string

beforeAll(async () => {
  server = createServer((_req, res) => void res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>web apis</title>'))
  origin = `http://127.0.0.1:${await listen(server)}`
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
  if (server) await closeServer(server)
})

it('IndexedDB, the Cache API, BroadcastChannel and Web Locks work on a 127.0.0.1 page', async () => {
  const { context, page, errors } = await openPage(browser)
  try {
    await page.goto(origin + '/')
    const result = await page.evaluate(async () => {
      const request = <T>(r: IDBRequest<T>) => new Promise<T>((resolve, reject) => ((r.onsuccess = () => resolve(r.result)), (r.onerror = () => reject(r.error))))
      const open = indexedDB.open('probe', 1)
      open.onupgradeneeded = () => open.result.createObjectStore('kv')
      const db = await request(open)
      await request(db.transaction('kv', 'readwrite').objectStore('kv').put({ n: 42 }, 'k'))
      const idb = (await request(db.transaction('kv').objectStore('kv').get('k'))) as { n: number }
      db.close()

      const cache = await caches.open('probe')
      await cache.put(location.origin + '/x', new Response('cached', { headers: { 'content-type': 'text/plain' } }))
      const cached = await (await cache.match(location.origin + '/x'))?.text()

      // Two channels of one name in one page: a message posted on one arrives on the other.
      const [a, b] = [new BroadcastChannel('probe'), new BroadcastChannel('probe')]
      const message = new Promise((resolve) => (b.onmessage = (event) => resolve(event.data)))
      a.postMessage({ hello: 'tab' })
      const broadcast = await message
      a.close()
      b.close()

      // A second ifAvailable request while the first holds the lock gets null: the lock is exclusive.
      const locks = await navigator.locks.request('probe', async () => {
        const inner = await navigator.locks.request('probe', { ifAvailable: true }, async (lock) => lock)
        return { held: (await navigator.locks.query()).held?.map((lock) => lock.name), contended: inner }
      })
      return { secure: isSecureContext, idb, cached, broadcast, locks }
    })
    expect(result).toEqual({ secure: true, idb: { n: 42 }, cached: 'cached', broadcast: { hello: 'tab' }, locks: { held: ['probe'], contended: null } })
    expect(errors).toEqual([])
  } finally {
    await context.close()
  }
})

it('launches CHROMIUM_PATH when set, else Debian\'s Chromium when there, else the npm-packaged one', async () => {
  const expected = process.env.CHROMIUM_PATH ? 'CHROMIUM_PATH' : existsSync(SYSTEM_CHROMIUM) ? 'system' : '@sparticuz/chromium'
  const { path, source } = await findChromium()
  expect(source).toBe(expected)
  if (source === 'CHROMIUM_PATH') expect(path).toBe(process.env.CHROMIUM_PATH)
  expect(existsSync(path)).toBe(true)
  expect(browser.version()).toMatch(/^\d+\./)
})
