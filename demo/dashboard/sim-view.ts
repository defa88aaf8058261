/** The default view: simulated endpoints driven through one resilient fetch, with scenes and controls. */
import { createResilientFetch } from '../../src/index'
import type { ResilienceSnapshot, ResilientFetchOptions } from '../../src/types'
import { BreakerCard, CardGrid } from './card'
import { h } from './format'
import { History } from './history'
import { latencyByKey } from './latency'
import { StateLog } from './log'
import { RateMeter } from './rate'
import { DEFAULT_TRAFFIC, ENDPOINTS, SCENES, type Scene } from './scenes'
import { createSimulatedFetch, endpointOf, LoadGenerator, type EndpointCounters, type TrafficSettings } from './simulation'
import { TotalsView } from './totals'

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
  // Armed here, switched per call by the page's toggle: a hedge after the key's p90, when no headers came.
  hedge: { delay: 'p90' },
}

/** What the cards say the breaker window is; follows DEMO_OPTIONS.breaker.window. */
export const DEMO_WINDOW = 'last 10 s'

type Setting = keyof TrafficSettings

/** Bounds of the sliders; the all-endpoints error rate is 0..100 by contract. */
const RANGES = {
  errorRate: { min: 0, max: 100, step: 1, unit: '%', label: 'Error rate', control: 'error-rate' },
  latency: { min: 0, max: 3_000, step: 10, unit: 'ms', label: 'Latency', control: 'latency' },
  slowShare: { min: 0, max: 50, step: 1, unit: '%', label: 'Slow answers', control: 'slow-share' },
  rate: { min: 0, max: 20, step: 1, unit: '/s', label: 'Request rate', control: 'request-rate' },
} satisfies Record<Setting, { min: number; max: number; step: number; unit: string; label: string; control: string }>

const SETTINGS = Object.keys(RANGES) as Setting[]

/** Spoken and shown under each slider name. */
const HINTS: Record<Setting, string> = {
  errorRate: 'share of answers that fail',
  latency: 'mean time to an answer',
  slowShare: 'share of answers that take 1.5 s',
  rate: 'calls per second, per endpoint',
}

const CUSTOM_DESCRIPTION = 'Your own settings. Pick a scene to start over.'

export class SimulationView {
  readonly settings = new Map<string, TrafficSettings>(ENDPOINTS.map((name) => [name, { ...DEFAULT_TRAFFIC }]))
  private readonly counters = new Map<string, EndpointCounters>(ENDPOINTS.map((name) => [name, { calls: 0, fallbacks: 0, retries: 0, hedges: 0 }]))
  private readonly endpointInputs = new Map<string, Map<Setting, HTMLInputElement>>()
  private readonly globalInputs = new Map<Setting, { input: HTMLInputElement; output: HTMLOutputElement }>()
  private readonly rf = createResilientFetch({ ...DEMO_OPTIONS, fetch: createSimulatedFetch((name) => this.settings.get(name)) })
  private readonly load = new LoadGenerator(this.rf, this.settings, this.counters, () => ({ hedge: this.hedging }))
  private hedging = false
  private readonly history = new History()
  private readonly rates = new RateMeter()
  private readonly grid: CardGrid
  private readonly log: StateLog
  private readonly totals: TotalsView
  private readonly sceneDescription: HTMLElement
  private readonly sceneInputs: HTMLInputElement[]
  private lastSample = 0
  private pendingRender = false

  constructor(root: HTMLElement, scene: Scene) {
    this.grid = new CardGrid(root.querySelector<HTMLElement>('[data-role="cards"]')!, (key) => this.createCard(key))
    this.log = new StateLog(root.querySelector<HTMLOListElement>('[data-role="log"]')!)
    this.totals = new TotalsView(root.querySelector<HTMLElement>('[data-role="totals"]')!)
    this.sceneDescription = root.querySelector<HTMLElement>('[data-role="scene-description"]')!
    for (const name of ENDPOINTS) this.grid.card(name)
    this.sceneInputs = this.buildScenePicker(root.querySelector<HTMLElement>('[data-role="scenes"]')!)
    this.buildGlobalControls(root.querySelector<HTMLElement>('[data-role="global-controls"]')!)
    this.listen()
    this.applyScene(scene)
    this.load.start()
    this.render()
    setInterval(() => this.render(), 250)
  }

  private listen(): void {
    this.rf.addEventListener('statechange', ({ detail }) => {
      this.grid.card(detail.key).setState(detail.to)
      this.log.add({ ...detail, at: Date.now() })
      // Refresh the figures too, but outside the core's dispatch: snapshot() inside a listener could re-enter it.
      this.renderSoon()
    })
    this.rf.addEventListener('retry', ({ detail }) => this.bump(detail.key, 'retries'))
    this.rf.addEventListener('fallback', ({ detail }) => this.bump(detail.key, 'fallbacks'))
    this.rf.addEventListener('hedge', ({ detail }) => this.bump(detail.key, 'hedges'))
  }

  private renderSoon(): void {
    if (this.pendingRender) return
    this.pendingRender = true
    setTimeout(() => {
      this.pendingRender = false
      this.render()
    }, 0)
  }

  private bump(key: string, counter: 'retries' | 'fallbacks' | 'hedges'): void {
    const counters = this.counters.get(key)
    if (counters) counters[counter]++
  }

  private render(): void {
    const snapshot: ResilienceSnapshot = this.rf.snapshot()
    const now = Date.now()
    if (now - this.lastSample >= 1_000) {
      this.history.record(snapshot, now)
      for (const [key, counters] of this.counters) this.rates.record(key, counters.calls, now)
      this.rates.record('', snapshot.totals.requests, now)
      this.lastSample = now
    }
    const bulkheads = new Map(snapshot.bulkheads.map((b) => [b.key, b]))
    const latencies = latencyByKey(snapshot)
    for (const breaker of snapshot.breakers) {
      if (!this.settings.has(breaker.key)) continue
      this.grid.card(breaker.key).update({
        key: breaker.key,
        breaker,
        bulkhead: bulkheads.get(breaker.key),
        latency: latencies.get(breaker.key),
        counters: this.counters.get(breaker.key),
        rate: { perSecond: this.rates.rate(breaker.key), total: this.counters.get(breaker.key)?.calls ?? 0, of: 'calls' },
        nextProbeIn: breaker.nextProbeAt !== undefined && breaker.state !== 'half-open' ? breaker.nextProbeAt - snapshot.at : undefined,
        history: this.history.get(breaker.key),
        now,
      })
    }
    this.totals.update(snapshot.totals, this.rates.rate(''))
  }

  /** Sets every endpoint's traffic to the scene's and says what the scene shows. */
  applyScene(scene: Scene): void {
    for (const endpoint of ENDPOINTS) {
      const traffic = scene.traffic(endpoint)
      for (const name of SETTINGS) this.setEndpoint(endpoint, name, traffic[name])
    }
    for (const input of this.sceneInputs) input.checked = input.value === scene.id
    this.sceneDescription.textContent = scene.description
    this.syncGlobalControls()
  }

  /** A manual change leaves the scene: no scene is selected any more. */
  private leaveScene(): void {
    for (const input of this.sceneInputs) input.checked = false
    this.sceneDescription.textContent = CUSTOM_DESCRIPTION
  }

  /** Sets one endpoint's setting and mirrors it into that endpoint's slider. */
  private setEndpoint(endpoint: string, name: Setting, value: number): void {
    const settings = this.settings.get(endpoint)
    if (settings) settings[name] = value
    const input = this.endpointInputs.get(endpoint)?.get(name)
    if (input) {
      input.value = String(value)
      input.dispatchEvent(new Event('sync'))
    }
  }

  /** Each global slider shows the endpoints' common value, or "mixed" where they differ. */
  private syncGlobalControls(): void {
    for (const [name, { input, output }] of this.globalInputs) {
      const values = new Set([...this.settings.values()].map((settings) => settings[name]))
      if (values.size === 1) input.value = String([...values][0])
      output.value = values.size === 1 ? `${input.value} ${RANGES[name].unit}` : 'mixed'
    }
  }

  private buildScenePicker(container: HTMLElement): HTMLInputElement[] {
    return SCENES.map((scene) => {
      const input = h('input', { type: 'radio', name: 'scene', value: scene.id, 'data-scene': scene.id })
      input.addEventListener('change', () => {
        if (input.checked) this.applyScene(scene)
      })
      container.append(h('label', { class: 'scene' }, input, h('span', {}, scene.label)))
      return input
    })
  }

  private buildGlobalControls(container: HTMLElement): void {
    for (const name of SETTINGS) {
      const { input, output, row } = slider(name, `all-${RANGES[name].control}`, DEFAULT_TRAFFIC[name])
      input.dataset.control = RANGES[name].control
      this.globalInputs.set(name, { input, output })
      input.addEventListener('input', () => {
        for (const endpoint of ENDPOINTS) this.setEndpoint(endpoint, name, Number(input.value))
        this.leaveScene()
        this.syncGlobalControls()
      })
      container.append(row)
    }
    container.append(this.hedgeToggle())
    const pause = h('button', { type: 'button', 'data-action': 'pause', 'aria-pressed': 'false' }, 'Pause traffic')
    pause.addEventListener('click', () => {
      if (this.load.running) this.load.stop()
      else this.load.start()
      pause.textContent = this.load.running ? 'Pause traffic' : 'Resume traffic'
      pause.setAttribute('aria-pressed', String(!this.load.running))
    })
    container.append(h('div', { class: 'buttons' }, pause))
  }

  /** Hedging on or off for the next calls; the scenes leave it as it is. */
  private hedgeToggle(): HTMLElement {
    const input = h('input', { type: 'checkbox', id: 'all-hedge', 'data-control': 'hedge', 'aria-describedby': 'all-hedge-hint' })
    input.checked = this.hedging
    input.addEventListener('change', () => (this.hedging = input.checked))
    const hint = h('span', { class: 'hint', id: 'all-hedge-hint' }, "a second attempt after the key's p90 without an answer; the first answer wins")
    return h('div', { class: 'toggle' }, input, h('div', { class: 'name' }, h('label', { for: 'all-hedge' }, 'Hedge slow attempts'), hint))
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
    return new BreakerCard(key, { window: DEMO_WINDOW, extra: [actions, this.trafficControls(key)] })
  }

  /** Per-endpoint sliders, folded away by default so the cards stay compact. */
  private trafficControls(key: string): HTMLElement {
    const inputs = new Map<Setting, HTMLInputElement>()
    this.endpointInputs.set(key, inputs)
    const rows = SETTINGS.map((name) => {
      const { input, output, row } = slider(name, `traffic-${key}-${RANGES[name].control}`, this.settings.get(key)?.[name] ?? DEFAULT_TRAFFIC[name], key)
      input.dataset.control = `endpoint-${RANGES[name].control}`
      input.dataset.endpoint = key
      inputs.set(name, input)
      input.addEventListener('sync', () => (output.value = `${input.value} ${RANGES[name].unit}`))
      input.addEventListener('input', () => {
        const settings = this.settings.get(key)
        if (settings) settings[name] = Number(input.value)
        this.leaveScene()
        this.syncGlobalControls()
      })
      return row
    })
    return h('details', { class: 'traffic' }, h('summary', {}, `Traffic for ${key}`), ...rows)
  }
}

/**
 * A labelled range input with its value beside it. With `endpoint`, the endpoint is spoken, not
 * shown: the card already says whose controls these are.
 */
function slider(name: Setting, id: string, value: number, endpoint?: string) {
  const range = RANGES[name]
  const input = h('input', { type: 'range', id, min: String(range.min), max: String(range.max), step: String(range.step), value: String(value), 'aria-describedby': `${id}-hint` })
  const output = h('output', { for: id })
  output.value = `${value} ${range.unit}`
  input.addEventListener('input', () => (output.value = `${input.value} ${range.unit}`))
  const label = h('label', { for: id }, range.label, ...(endpoint ? [h('span', { class: 'visually-hidden' }, ` of ${endpoint}`)] : []))
  const hint = h('span', { class: 'hint', id: `${id}-hint` }, HINTS[name])
  return { input, output, row: h('div', { class: 'control' }, h('div', { class: 'name' }, label, hint), input, output) }
}
