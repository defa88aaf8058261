/** The default view: simulated endpoints driven through one resilient fetch, with controls. */
import { createResilientFetch } from '../../src/index'
import type { ResilienceSnapshot, ResilientFetchOptions } from '../../src/types'
import { BreakerCard, CardGrid } from './card'
import { h } from './format'
import { History } from './history'
import { StateLog } from './log'
import { createSimulatedFetch, endpointOf, LoadGenerator, type EndpointCounters, type TrafficSettings } from './simulation'
import { TotalsView } from './totals'

export const ENDPOINTS = ['users', 'orders', 'search', 'payments']

export const DEFAULT_TRAFFIC: TrafficSettings = { errorRate: 0, latency: 120, rate: 3 }

/**
 * Chosen so the demo reacts within seconds: at 3 calls/s, 100 % errors open a breaker in
 * about 2 s, and 0 % closes it about 4 s after that (one open period, then one probe).
 */
export const DEMO_OPTIONS: Omit<ResilientFetchOptions, 'fetch'> = {
  key: (request) => endpointOf(request.url),
  breaker: { window: { type: 'time', duration: 10_000 }, failureThreshold: 5, openDuration: 4_000 },
  bulkhead: { maxConcurrent: 4, maxQueue: 8, queueTimeout: 2_000 },
  timeout: { attempt: 2_000, total: 6_000 },
  retry: { limit: 1, backoff: { base: 200, max: 1_000 } },
  fallback: { store: 'memory' },
}

/** Bounds of the sliders; the all-endpoints error rate is 0..100 by contract. */
const RANGES = {
  errorRate: { min: 0, max: 100, step: 1, unit: '%' },
  latency: { min: 0, max: 3_000, step: 10, unit: 'ms' },
  rate: { min: 0, max: 20, step: 1, unit: '/s' },
} satisfies Record<keyof TrafficSettings, { min: number; max: number; step: number; unit: string }>

const CONTROL_NAMES: Record<keyof TrafficSettings, string> = { errorRate: 'error-rate', latency: 'latency', rate: 'request-rate' }
const CONTROL_LABELS: Record<keyof TrafficSettings, string> = { errorRate: 'Error rate', latency: 'Latency', rate: 'Request rate' }

export class SimulationView {
  readonly settings = new Map<string, TrafficSettings>(ENDPOINTS.map((name) => [name, { ...DEFAULT_TRAFFIC }]))
  private readonly counters = new Map<string, EndpointCounters>(ENDPOINTS.map((name) => [name, { calls: 0, fallbacks: 0, retries: 0 }]))
  private readonly endpointInputs = new Map<string, Map<keyof TrafficSettings, HTMLInputElement>>()
  private readonly rf = createResilientFetch({ ...DEMO_OPTIONS, fetch: createSimulatedFetch((name) => this.settings.get(name)) })
  private readonly load = new LoadGenerator(this.rf, this.settings, this.counters)
  private readonly history = new History()
  private readonly grid: CardGrid
  private readonly log: StateLog
  private readonly totals: TotalsView
  private lastSample = 0
  private pendingRender = false

  constructor(root: HTMLElement) {
    this.grid = new CardGrid(root.querySelector<HTMLElement>('[data-role="cards"]')!, (key) => this.createCard(key))
    this.log = new StateLog(root.querySelector<HTMLOListElement>('[data-role="log"]')!)
    this.totals = new TotalsView(root.querySelector<HTMLElement>('[data-role="totals"]')!)
    for (const name of ENDPOINTS) this.grid.card(name)
    this.wireGlobalControls(root)

    this.rf.addEventListener('statechange', ({ detail }) => {
      this.grid.card(detail.key).setState(detail.to)
      this.log.add({ ...detail, at: Date.now() })
      // Refresh the figures too, but outside the core's dispatch: snapshot() inside a listener could re-enter it.
      this.renderSoon()
    })
    this.rf.addEventListener('retry', ({ detail }) => this.bump(detail.key, 'retries'))
    this.rf.addEventListener('fallback', ({ detail }) => this.bump(detail.key, 'fallbacks'))

    const pause = root.querySelector<HTMLButtonElement>('[data-action="pause"]')!
    pause.addEventListener('click', () => {
      if (this.load.running) this.load.stop()
      else this.load.start()
      pause.textContent = this.load.running ? 'Pause traffic' : 'Resume traffic'
      pause.setAttribute('aria-pressed', String(!this.load.running))
    })

    this.load.start()
    this.render()
    setInterval(() => this.render(), 250)
  }

  private renderSoon(): void {
    if (this.pendingRender) return
    this.pendingRender = true
    setTimeout(() => {
      this.pendingRender = false
      this.render()
    }, 0)
  }

  private bump(key: string, counter: 'retries' | 'fallbacks'): void {
    const counters = this.counters.get(key)
    if (counters) counters[counter]++
  }

  private render(): void {
    const snapshot: ResilienceSnapshot = this.rf.snapshot()
    const now = Date.now()
    if (now - this.lastSample >= 1_000) {
      this.history.record(snapshot, now)
      this.lastSample = now
    }
    const bulkheads = new Map(snapshot.bulkheads.map((b) => [b.key, b]))
    for (const breaker of snapshot.breakers) {
      if (!this.settings.has(breaker.key)) continue
      this.grid.card(breaker.key).update({
        key: breaker.key,
        breaker,
        bulkhead: bulkheads.get(breaker.key),
        counters: this.counters.get(breaker.key),
        nextProbeIn: breaker.nextProbeAt !== undefined && breaker.state !== 'half-open' ? breaker.nextProbeAt - snapshot.at : undefined,
        history: this.history.get(breaker.key),
        now,
      })
    }
    this.totals.update(snapshot.totals)
  }

  /** Sets one setting on every endpoint and mirrors it into the per-endpoint sliders. */
  private setAll(name: keyof TrafficSettings, value: number): void {
    for (const [endpoint, settings] of this.settings) {
      settings[name] = value
      const input = this.endpointInputs.get(endpoint)?.get(name)
      if (input) {
        input.value = String(value)
        input.dispatchEvent(new Event('sync'))
      }
    }
  }

  private wireGlobalControls(root: HTMLElement): void {
    for (const name of Object.keys(RANGES) as (keyof TrafficSettings)[]) {
      const input = root.querySelector<HTMLInputElement>(`input[data-control="${CONTROL_NAMES[name]}"]`)!
      input.value = String(DEFAULT_TRAFFIC[name])
      const output = root.querySelector<HTMLOutputElement>(`output[for="${input.id}"]`)!
      const show = () => (output.value = `${input.value} ${RANGES[name].unit}`)
      show()
      input.addEventListener('input', () => {
        show()
        this.setAll(name, Number(input.value))
      })
    }
  }

  private createCard(key: string): BreakerCard {
    const control = (verb: 'open' | 'close' | 'reset', text: string) => {
      const button = h('button', { type: 'button', 'data-action': verb, 'aria-label': `${text} the ${key} breaker` }, text)
      button.addEventListener('click', () => {
        const breaker = this.rf.breaker(key)
        if (!breaker) return
        breaker[verb]()
        this.render()
      })
      return button
    }
    const actions = h('div', { class: 'actions', role: 'group', 'aria-label': `Manual control of ${key}` }, control('open', 'Open'), control('close', 'Close'), control('reset', 'Reset'))
    return new BreakerCard(key, actions, this.trafficControls(key))
  }

  /** Per-endpoint sliders, folded away by default so the cards stay compact. */
  private trafficControls(key: string): HTMLElement {
    const settings = this.settings.get(key)
    const inputs = new Map<keyof TrafficSettings, HTMLInputElement>()
    this.endpointInputs.set(key, inputs)
    const rows = (Object.keys(RANGES) as (keyof TrafficSettings)[]).map((name) => {
      const range = RANGES[name]
      const id = `traffic-${key}-${CONTROL_NAMES[name]}`
      const input = h('input', {
        type: 'range',
        id,
        min: String(range.min),
        max: String(range.max),
        step: String(range.step),
        value: String(settings?.[name] ?? DEFAULT_TRAFFIC[name]),
        'data-control': `endpoint-${CONTROL_NAMES[name]}`,
        'data-endpoint': key,
      })
      inputs.set(name, input)
      const output = h('output', { for: id })
      const show = () => (output.value = `${input.value} ${range.unit}`)
      show()
      input.addEventListener('sync', show)
      input.addEventListener('input', () => {
        show()
        if (settings) settings[name] = Number(input.value)
      })
      // The endpoint is spoken, not shown: the card already says whose controls these are.
      const label = h('label', { for: id }, CONTROL_LABELS[name], h('span', { class: 'visually-hidden' }, ` of ${key}`))
      return h('div', { class: 'control' }, label, input, output)
    })
    return h('details', { class: 'traffic' }, h('summary', {}, `Traffic for ${key}`), ...rows)
  }
}
