/** In-memory stand-ins for what a BreakerCoordinator Durable Object runs on: its state (storage, one alarm) and a namespace. */
import { BreakerCoordinator, type CoordinatorContext } from '../src/worker/coordinator.js'
import type { CoordinatorNamespace } from '../src/worker/share.js'

/** DurableObjectState in memory: storage, one alarm, blockConcurrencyWhile that just runs; `writes` names each write, in order. */
export function memoryState() {
  const data = new Map<string, unknown>()
  const writes: string[] = []
  let alarm: number | null = null
  const ctx: CoordinatorContext = {
    storage: {
      get: async <T>(key: string) => structuredClone(data.get(key)) as T | undefined,
      put: async (key, value) => void (writes.push(`put ${key}`), data.set(key, structuredClone(value))),
      delete: async (key) => (writes.push(`delete ${key}`), data.delete(key)),
      getAlarm: async () => alarm,
      setAlarm: async (t) => void (writes.push(`setAlarm ${t}`), (alarm = t)),
      deleteAlarm: async () => void (writes.push('deleteAlarm'), (alarm = null)),
    },
    blockConcurrencyWhile: (callback) => callback(),
  }
  return { ctx, data, writes, alarm: () => alarm }
}

/** A namespace whose objects are BreakerCoordinators in this process, one per name. */
export function memoryNamespace() {
  const objects = new Map<string, BreakerCoordinator>()
  const states = new Map<string, ReturnType<typeof memoryState>>()
  let calls = 0
  const namespace: CoordinatorNamespace = {
    idFromName: (name) => name,
    get: ((id: string) => ({
      fetch: async (input: string, init?: RequestInit) => {
        calls++
        let object = objects.get(id)
        if (object === undefined) {
          const state = memoryState()
          states.set(id, state)
          objects.set(id, (object = new BreakerCoordinator(state.ctx)))
        }
        return object.fetch(new Request(input, init))
      },
    })) as never,
  }
  return { namespace, objects, states, calls: () => calls }
}
