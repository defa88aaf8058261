/**
 * The Worker view: follows a proxy's `/events` stream (Server-Sent Events) and shows its
 * breakers with the same cards. `statechange` moves a card at once; `snapshot` (at least once
 * a second) refreshes everything. Figures that stop arriving are marked stale, never shown as live.
 */
import type { BreakerState, ResilienceSnapshot } from '../../src/types'
import { BreakerCard, CardGrid, type LatencySummary } from './card'
import { clockTime } from './format'
import { History } from './history'
import { latencyByKey } from './latency'
import { StateLog } from './log'
import { RateMeter } from './rate'
import { TotalsView } from './totals'

interface StateChangeMessage {
  key: string
  from: BreakerState
  to: BreakerState
  at: number
}

/** The query parameter /events takes the proxy's METRICS_TOKEN in (src/worker/proxy.ts). */
const EVENTS_TOKEN_PARAM = 'token'

/** The proxy sends a snapshot every second; this long without one means the figures are old. */
export const STALE_AFTER = 5_000

/** What the cards say the breaker window is: the proxy's WINDOW_MS, which its snapshot does not carry. */
const PROXY_WINDOW = 'breaker window'

type Status = 'idle' | 'connecting' | 'connected' | 'error'

export class WorkerView {
  private source: EventSource | undefined
  /** The stream whose figures are on screen; another URL starts from a clean slate. */
  private shownUrl: string | undefined
  private readonly grid: CardGrid
  private readonly log: StateLog
  private readonly totals: TotalsView
  private readonly history = new History()
  private readonly rates = new RateMeter()
  /** Copies the proxy served per key since this page connected, from its `fallback` events. */
  private readonly fallbacks = new Map<string, number>()
  private readonly status: HTMLElement
  private readonly input: HTMLInputElement
  private last: { snapshot: ResilienceSnapshot; receivedAt: number } | undefined
  private lastSample = 0

  constructor(root: HTMLElement) {
    this.grid = new CardGrid(root.querySelector<HTMLElement>('[data-role="cards"]')!, (key) => new BreakerCard(key, { window: PROXY_WINDOW }))
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
    // Counts down "next probe in" between snapshots, and notices when they stop.
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
      this.clearFigures()
      this.setStatus('error', `not a URL: ${maskToken(this.input.value)}`)
      return
    }
    if (url.href !== this.shownUrl) this.clearFigures()
    this.shownUrl = url.href
    const source = new EventSource(url)
    this.source = source
    this.setStatus('connecting', `connecting to ${maskToken(url.href)}…`)
    this.follow(source, url.href)
  }

  disconnect(): void {
    if (!this.source) return
    this.source.close()
    this.source = undefined
    this.markStale(`disconnected at ${clockTime(Date.now())}`)
    this.setStatus('idle', 'disconnected')
  }

  /** `href` is what the stream is fetched from; the status line shows it with the token masked. */
  private follow(source: EventSource, href: string): void {
    const shown = maskToken(href)
    let opened = false
    source.addEventListener('open', () => {
      opened = true
      this.setStatus('connected', `connected to ${shown}`)
    })
    source.addEventListener('error', () => {
      if (source !== this.source) return
      const closed = source.readyState === EventSource.CLOSED
      if (!opened) {
        // Never connected: nothing on screen came from this URL, so there is nothing to call stale.
        this.setStatus('error', `could not connect to ${shown}` + (closed ? ': it did not answer with an event stream' : '; trying again…'))
        if (closed) void this.explain(source, href)
        return
      }
      opened = false
      this.markStale(`no updates since ${clockTime(this.last?.receivedAt ?? Date.now())}`)
      this.setStatus('error', `lost the connection to ${shown}` + (closed ? '' : '; reconnecting…') + ' The figures below are from before.')
    })
    source.addEventListener('snapshot', (event) => {
      const snapshot = parse<ResilienceSnapshot>((event as MessageEvent).data)
      if (source !== this.source || !snapshot || !Array.isArray(snapshot.breakers)) return
      this.last = { snapshot, receivedAt: Date.now() }
      this.render()
    })
    source.addEventListener('fallback', (event) => {
      const served = parse<{ key: string }>((event as MessageEvent).data)
      if (source !== this.source || !served || typeof served.key !== 'string') return
      this.fallbacks.set(served.key, (this.fallbacks.get(served.key) ?? 0) + 1)
    })
    source.addEventListener('statechange', (event) => {
      const change = parse<StateChangeMessage>((event as MessageEvent).data)
      if (source !== this.source || !change || typeof change.key !== 'string') return
      this.grid.card(change.key).setState(change.to)
      this.log.add({ ...change, at: typeof change.at === 'number' ? change.at : Date.now() })
    })
  }

  /**
   * EventSource hides why a stream was refused; one plain request shows the status. A 401 is the proxy's
   * METRICS_TOKEN, which EventSource can only send in the URL.
   */
  private async explain(source: EventSource, href: string): Promise<void> {
    let status: number
    try {
      const controller = new AbortController()
      const response = await fetch(href, { cache: 'no-store', signal: controller.signal })
      status = response.status
      controller.abort()
    } catch {
      // The stream was refused and so is a plain request: another origin that does not let this page read it (no
      // CORS, as a proxy's /events), or gone since. The proxy serves this page itself, where its stream is same-origin.
      const { origin } = new URL(href)
      if (source === this.source && origin !== location.origin) {
        this.setStatus('error', `could not connect to ${maskToken(href)}: another origin, which does not let this page read it (CORS); open ${origin}/#worker, where the proxy serves this dashboard`)
      }
      return
    }
    if (source !== this.source || status === 200) return
    const url = new URL(href)
    const hint =
      status !== 401
        ? `it answered ${status}, not an event stream`
        : url.searchParams.has(EVENTS_TOKEN_PARAM)
          ? `the token in the URL is not the proxy's METRICS_TOKEN (401)`
          : `the proxy has a METRICS_TOKEN (401): connect to ${url.pathname}?${EVENTS_TOKEN_PARAM}=<token>`
    this.setStatus('error', `could not connect to ${maskToken(href)}: ${hint}`)
  }

  /** Empties the cards, log and totals: they belonged to another stream. */
  private clearFigures(): void {
    this.last = undefined
    this.shownUrl = undefined
    this.grid.clear()
    this.log.clear()
    this.history.clear()
    this.rates.clear()
    this.fallbacks.clear()
    this.totals.update(undefined)
  }

  private markStale(reason: string): void {
    for (const card of this.grid.all) card.setStale(reason)
    this.totals.element.toggleAttribute('data-stale', true)
  }

  private render(): void {
    if (!this.last) return
    const { snapshot, receivedAt } = this.last
    const now = Date.now()
    // Disconnected: the cards were marked stale then, with the reason.
    if (!this.source) return
    if (now - receivedAt > STALE_AFTER) {
      this.markStale(`no updates since ${clockTime(receivedAt)}`)
      return
    }
    const latencies = latencyByKey(snapshot)
    if (receivedAt > this.lastSample && now - this.lastSample >= 1_000) {
      this.history.record(snapshot, now)
      this.rates.record('', snapshot.totals.requests, receivedAt)
      for (const [key, latency] of latencies) if (latency.count !== undefined) this.rates.record(key, latency.count, receivedAt)
      this.lastSample = now
    }
    this.renderCards(snapshot, latencies, now - receivedAt, now)
    this.totals.element.toggleAttribute('data-stale', false)
    this.totals.update(snapshot.totals, this.rates.rate(''))
  }

  /** `elapsed`: ms since the snapshot arrived; the proxy's clock may differ from ours, so count from its own `at`. */
  private renderCards(snapshot: ResilienceSnapshot, latencies: Map<string, LatencySummary>, elapsed: number, now: number): void {
    const bulkheads = new Map(snapshot.bulkheads.map((b) => [b.key, b]))
    this.grid.retain(new Set(snapshot.breakers.map((b) => b.key)))
    for (const breaker of snapshot.breakers) {
      const latency = latencies.get(breaker.key)
      this.grid.card(breaker.key).update({
        key: breaker.key,
        breaker,
        bulkhead: bulkheads.get(breaker.key),
        latency,
        counters: { fallbacks: this.fallbacks.get(breaker.key) ?? 0 },
        rate: latency?.count === undefined ? undefined : { perSecond: this.rates.rate(breaker.key), total: latency.count, of: 'attempts' },
        nextProbeIn:
          breaker.nextProbeAt !== undefined && breaker.state !== 'half-open' ? Math.max(0, breaker.nextProbeAt - snapshot.at - elapsed) : undefined,
        history: this.history.get(breaker.key),
        now,
      })
    }
  }

  private setStatus(state: Status, text: string): void {
    this.status.dataset.status = state
    this.status.textContent = text
  }
}

/**
 * The text with the value of each `token` parameter of its query masked (the name as the proxy reads it, decoded:
 * `%74oken` too), the rest as typed: the status line is on screen, and in screenshots, where a token must not be.
 */
function maskToken(text: string): string {
  const start = text.indexOf('?')
  if (start < 0) return text
  const hash = text.indexOf('#', start)
  const end = hash < 0 ? text.length : hash
  const query = text
    .slice(start + 1, end)
    .split('&')
    .map((pair) => (new URLSearchParams(pair).has(EVENTS_TOKEN_PARAM) ? `${pair.split('=')[0]}=${MASK}` : pair))
  return `${text.slice(0, start + 1)}${query.join('&')}${text.slice(end)}`
}

const MASK = '•••'

function parse<T>(data: unknown): T | undefined {
  try {
    return JSON.parse(String(data)) as T
  } catch {
    return undefined
  }
}
