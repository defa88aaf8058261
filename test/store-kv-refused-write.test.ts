// KV takes one write per key per second, and refuses another with a 429: a refused write is the key's last write
// attempt too, or every put of that key within the second goes to KV and is refused again.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { kvStore, type KvNamespaceLike } from '../src/store/kv.js'

afterEach(() => void vi.restoreAllMocks())

const T0 = 1_800_000_000_000
const entry = (body: string) => ({ url: 'https://api.example.com/x', status: 200, statusText: 'OK', headers: [] as [string, string][], body: new TextEncoder().encode(body).buffer as ArrayBuffer, storedAt: T0 })

/** A namespace whose writes KV refuses with a 429 while `refusing`; counts the writes sent. */
function limited() {
  const puts: string[] = []
  const state = { refusing: true }
  const namespace: KvNamespaceLike = {
    getWithMetadata: async () => ({ value: null, metadata: null }),
    delete: async () => {},
    list: async () => ({ keys: [], list_complete: true }),
    async put(key) {
      puts.push(key)
      if (state.refusing) throw new Error('KV PUT failed: 429 Too Many Requests')
    },
  }
  return { namespace, puts, state }
}

describe('kvStore after a write KV refused with 429', () => {
  it('sends no other write of that key within the second, from this store or another on the binding; one a second later', async () => {
    const now = vi.spyOn(Date, 'now').mockReturnValue(T0)
    const { namespace, puts, state } = limited()
    const prefix = 'refused:'
    await kvStore(namespace, { prefix }).put('a', entry('1'))
    expect(puts).toEqual(['refused:a'])
    state.refusing = false
    now.mockReturnValue(T0 + 999)
    await kvStore(namespace, { prefix }).put('a', entry('2'))
    await kvStore(namespace, { prefix }).put('b', entry('b'))
    expect(puts).toEqual(['refused:a', 'refused:b'])
    now.mockReturnValue(T0 + 1_000)
    await kvStore(namespace, { prefix }).put('a', entry('3'))
    expect(puts).toEqual(['refused:a', 'refused:b', 'refused:a'])
  })

  it('a write that failed otherwise (a 500) holds nothing back: the next put of the key is sent at once', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(T0)
    const puts: string[] = []
    let fail = true
    const { namespace } = limited()
    const failing: KvNamespaceLike = {
      ...namespace,
      async put(key) {
        puts.push(key)
        if (fail) throw ((fail = false), new Error('KV PUT failed: 500'))
      },
    }
    const store = kvStore(failing, { prefix: 'failed:' })
    await expect(store.put('a', entry('1'))).rejects.toThrow('500')
    await store.put('a', entry('2'))
    expect(puts).toEqual(['failed:a', 'failed:a'])
  })
})
