/**
 * The Durable Object that holds one upstream's breaker for the whole Worker fleet (one object per
 * key, by `idFromName(key)`). Thin glue around FleetBreaker: storage so an evicted object resumes,
 * the alarm that ends an open window, and the message handler. No import from 'cloudflare:workers',
 * so `resilient-fetch/worker` still loads outside workerd.
 */
import { FleetBreaker, type FleetSnapshot } from './fleet.js'
import { readFleetOptions, readMessage, type CoordinatorAnswer, type CoordinatorMessage } from './protocol.js'
import { now } from '../clock.js'

/** The part of DurableObjectState the coordinator uses. */
export interface CoordinatorContext {
  storage: {
    get<T>(key: string): Promise<T | undefined>
    put(key: string, value: unknown): Promise<void>
    delete(key: string): Promise<unknown>
    getAlarm(): Promise<number | null>
    setAlarm(scheduledTime: number): Promise<void>
    deleteAlarm(): Promise<void>
  }
  blockConcurrencyWhile<T>(callback: () => Promise<T>): Promise<T>
}

const STORAGE_KEY = 'breaker'

/**
 * Export it from the Worker's main module and bind it (wrangler.toml):
 * `[[durable_objects.bindings]] name = "BREAKERS", class_name = "BreakerCoordinator"` with a
 * `new_sqlite_classes = ["BreakerCoordinator"]` migration. `durableObjectShare(env.BREAKERS)` talks to it.
 */
export class BreakerCoordinator {
  private breaker: FleetBreaker | undefined
  /** The revision last written, and the alarm last set, so unchanged messages cost no write. */
  private saved = -1
  /** Whether storage holds a snapshot: an idle breaker (closed, empty window) is not kept. */
  private stored = false
  private alarmAt: number | null = null

  constructor(
    private readonly ctx: CoordinatorContext,
    _env?: unknown,
  ) {
    void ctx.blockConcurrencyWhile(async () => {
      const stored = await ctx.storage.get<FleetSnapshot>(STORAGE_KEY)
      const breaker = stored === undefined ? undefined : restored(stored)
      // Unreadable (corrupt, or another version's), it would stay until a write happened to replace it: dropped now.
      if (stored !== undefined && breaker === undefined) await ctx.storage.delete(STORAGE_KEY)
      if (breaker !== undefined) {
        this.breaker = breaker
        this.stored = true
        // An idle snapshot (written before idle ones were deleted) goes with the next message.
        if (!breaker.idle) this.saved = breaker.revision
      }
      this.alarmAt = await ctx.storage.getAlarm()
    })
  }

  async fetch(request: Request): Promise<Response> {
    if (request.method !== 'POST') return Response.json({ error: 'method_not_allowed' }, { status: 405 })
    let body: unknown
    try {
      body = await request.json()
    } catch {
      return Response.json({ error: 'bad_message' }, { status: 400 })
    }
    const message = readMessage(body)
    if (message === undefined) return Response.json({ error: 'bad_message' }, { status: 400 })
    const answer = this.handle(message, now())
    await this.persist()
    return Response.json(answer)
  }

  async alarm(): Promise<void> {
    this.breaker?.alarm(now())
    this.alarmAt = null
    await this.persist()
  }

  /** The breaker as it stands (for tests and debugging); undefined until the first message. */
  get fleet(): FleetBreaker | undefined {
    return this.breaker
  }

  private handle(message: CoordinatorMessage, t: number): CoordinatorAnswer {
    let b = this.breaker
    // Closed since 0: a closed view from an object that started afresh (its idle state was not kept) is never newer than an isolate's own state.
    if (b === undefined) b = this.breaker = new FleetBreaker(message.options, 0)
    else b.configure(message.options)
    for (const [permit, failure] of message.ends ?? []) b.endProbe(t, permit, failure)
    if (message.failures !== undefined) b.report(t, message.failures, message.reporter)
    const grant = message.acquire === undefined ? undefined : b.acquire(t, message.acquire)
    return grant === undefined ? { view: b.view(t) } : { view: b.view(t), grant }
  }

  private async persist(): Promise<void> {
    const b = this.breaker
    if (b === undefined) return
    const writes: Promise<unknown>[] = []
    if (b.revision !== this.saved) {
      this.saved = b.revision
      // Closed with an empty window is where a new object starts: a key that only ever succeeds, or has recovered, keeps no storage.
      if (!b.idle) writes.push(this.ctx.storage.put(STORAGE_KEY, b.snapshot()))
      else if (this.stored) writes.push(this.ctx.storage.delete(STORAGE_KEY))
      this.stored = !b.idle
    }
    const at = b.alarmAt ?? null
    if (at !== this.alarmAt) {
      this.alarmAt = at
      writes.push(at === null ? this.ctx.storage.deleteAlarm() : this.ctx.storage.setAlarm(at))
    }
    await Promise.all(writes)
  }
}

/** The breaker a stored snapshot holds; undefined when it cannot be read (corrupt, or from a version that wrote another shape). */
function restored(snapshot: FleetSnapshot): FleetBreaker | undefined {
  if (typeof snapshot !== 'object' || snapshot === null || readFleetOptions(snapshot.options) === undefined) return undefined
  try {
    return FleetBreaker.restore(snapshot)
  } catch {
    return undefined
  }
}
