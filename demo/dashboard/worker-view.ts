/**
 * The Worker view: follows a proxy's `/events` stream (Server-Sent Events) and shows its
 * breakers with the same cards. `statechange` moves a card at once; `snapshot` (at least once
 * a second) refreshes everything.
 */
import type { BreakerState, ResilienceSnapshot } from '../../src/types'
import { CardGrid } from './card'
import { History } from './history'
import { StateLog } from './log'
import { TotalsView } from './totals'

interface StateChangeMessage {
  key: string
  from: BreakerState
  to: BreakerState
  at: number
}

export class WorkerView {
  private source: EventSource | undefined
  private readonly grid: CardGrid
  private readonly log: StateLog
  private readonly totals: TotalsView
  private readonly history = new History()
  private readonly status: HTMLElement
  private readonly input: HTMLInputElement
  private last: { snapshot: ResilienceSnapshot; receivedAt: number } | undefined
  private lastSample = 0

  constructor(root: HTMLElement) {
    this.grid = new CardGrid(root.querySelector<HTMLElement>('[data-role="cards"]')!)
    this.log = new StateLog(root.querySelector<HTMLOListElement>('[data-role="log"]')!)
    this.totals = new TotalsView(root.querySelector<HTMLElement>('[data-role="totals"]')!)
    this.status = root.querySelector<HTMLElement>('[data-role="status"]')!
    this.input = root.querySelector<HTMLInputElement>('input[data-control="events-url"]')!
    this.input.value = new URLSearchParams(location.search).get('events') ?? '/events'
    root.querySelector('form')!.addEventListener('submit', (event) => {
      event.preventDefault()
      this.connect()
    })
    root.querySelector('[data-action="disconnect"]')!.addEventListener('click', () => this.disconnect())
    // Counts down "next probe in" between snapshots.
    setInterval(() => this.render(), 500)
  }

  get connected(): boolean {
    return this.source !== undefined
  }

  /** Connects to the URL in the input, or reconnects after a change. */
  connect(): void {
    this.disconnect()
    let url: URL
    try {
      url = new URL(this.input.value.trim() || '/events', location.href)
    } catch {
      this.setStatus('error', `not a URL: ${this.input.value}`)
      return
    }
    const source = new EventSource(url)
    this.source = source
    this.setStatus('connecting', `connecting to ${url.href}…`)
    source.addEventListener('open', () => this.setStatus('connected', `connected to ${url.href}`))
    // EventSource retries by itself; say so instead of failing silently.
    source.addEventListener('error', () =>
      this.setStatus('error', source.readyState === EventSource.CLOSED ? `${url.href} refused the stream` : `lost ${url.href}, retrying…`),
    )
    source.addEventListener('snapshot', (event) => {
      const snapshot = parse<ResilienceSnapshot>((event as MessageEvent).data)
      if (!snapshot || !Array.isArray(snapshot.breakers)) return
      this.last = { snapshot, receivedAt: Date.now() }
      this.render()
    })
    source.addEventListener('statechange', (event) => {
      const change = parse<StateChangeMessage>((event as MessageEvent).data)
      if (!change || typeof change.key !== 'string') return
      this.grid.card(change.key).setState(change.to)
      this.log.add({ ...change, at: typeof change.at === 'number' ? change.at : Date.now() })
    })
  }

  disconnect(): void {
    if (!this.source) return
    this.source.close()
    this.source = undefined
    this.setStatus('idle', 'disconnected')
  }

  private render(): void {
    if (!this.last) return
    const { snapshot, receivedAt } = this.last
    const now = Date.now()
    if (receivedAt > this.lastSample && now - this.lastSample >= 1_000) {
      this.history.record(snapshot, now)
      this.lastSample = now
    }
    // The proxy's clock may differ from ours: count from the snapshot's own `at`.
    const elapsed = now - receivedAt
    const bulkheads = new Map(snapshot.bulkheads.map((b) => [b.key, b]))
    this.grid.retain(new Set(snapshot.breakers.map((b) => b.key)))
    for (const breaker of snapshot.breakers) {
      this.grid.card(breaker.key).update({
        key: breaker.key,
        breaker,
        bulkhead: bulkheads.get(breaker.key),
        nextProbeIn:
          breaker.nextProbeAt !== undefined && breaker.state !== 'half-open' ? Math.max(0, breaker.nextProbeAt - snapshot.at - elapsed) : undefined,
        history: this.history.get(breaker.key),
        now,
      })
    }
    this.totals.update(snapshot.totals)
  }

  private setStatus(state: 'idle' | 'connecting' | 'connected' | 'error', text: string): void {
    this.status.dataset.status = state
    this.status.textContent = text
  }
}

function parse<T>(data: unknown): T | undefined {
  try {
    return JSON.parse(String(data)) as T
  } catch {
    return undefined
  }
}
