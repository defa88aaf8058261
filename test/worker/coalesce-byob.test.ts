// Coalesced callers in workerd: the first caller's copy (a branch of the shared body) and a joined caller's (built from
// the bytes, as a request's I/O is its own there) read as workerd's fetch bodies do: byte streams, so a BYOB reader
// works on them, and each caller's bytes are its own.
import { describe, expect, it } from 'vitest'
import { createResilientFetch, resilienceInfo } from '../../src/index.js'

async function readByob(body: ReadableStream<Uint8Array>, size: number): Promise<string> {
  const reader = body.getReader({ mode: 'byob' })
  let text = ''
  const decoder = new TextDecoder()
  for (;;) {
    const { done, value } = await reader.read(new Uint8Array(size))
    if (done) return text + decoder.decode()
    text += decoder.decode(value, { stream: true })
  }
}

describe('coalesced copies in workerd', () => {
  it('each caller reads its own copy with a BYOB reader; one that writes into its bytes changes nothing for another', async () => {
    let answer!: (response: Response) => void
    let sent = 0
    const fetch = () => (sent++, new Promise<Response>((resolve) => (answer = resolve)))
    const rf = createResilientFetch({ fetch, coalesce: true, fallback: false, retry: false })
    const kept: Promise<unknown>[] = []
    const waitUntil = (p: Promise<unknown>) => void kept.push(p)
    const calls = [0, 1, 2].map(() => rf('https://a.test/x', { resilience: { waitUntil } }))
    for (let i = 0; i < 50 && sent === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5))
    answer(new Response('a shared body of some bytes'))
    const [first, second, third] = await Promise.all(calls)
    expect([first, second, third].map((r) => resilienceInfo(r!)?.coalesced ?? false)).toEqual([false, true, true])
    const firstRead = readByob(first!.body!, 4)
    const chunk = (await second!.body!.getReader().read()).value!
    chunk.fill(0x21)
    expect(await readByob(third!.body!, 5)).toBe('a shared body of some bytes')
    expect(await firstRead).toBe('a shared body of some bytes')
    expect(sent).toBe(1)
    await Promise.all(kept)
  })
})
