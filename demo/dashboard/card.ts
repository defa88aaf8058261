/**
 * One breaker card, shared by the simulation and the Worker view. Built once, then updated in
 * place, so focus and open <details> survive the once-a-second refresh.
 */
import type { BreakerSnapshot, BreakerState, BulkheadSnapshot } from '../../src/types'
import { count, duration, h, percent, STATE_LABELS } from './format'
import type { Sample } from './history'
import { sparklineMarkup } from './sparkline'

export interface CardModel {
  key: string
  /** Undefined until the key has seen its first call. */
  breaker?: BreakerSnapshot
  bulkhead?: BulkheadSnapshot
  /** Per-key figures only a local instance can count from its events; undefined shows a dash. */
  counters?: { calls: number; fallbacks: number; retries: number }
  /** ms until a probe may run, already corrected for the source's clock; only while open. */
  nextProbeIn?: number
  history: readonly Sample[]
  now: number
}

export class BreakerCard {
  readonly element: HTMLElement
  private readonly stateText: HTMLElement
  private readonly probe: HTMLElement
  private readonly spark: HTMLElement
  private readonly stats: Record<string, HTMLElement> = {}
  private readonly bulkheadMeter: HTMLMeterElement
  private readonly bulkheadText: HTMLElement
  private readonly bulkheadQueue: HTMLMeterElement
  /** Figures a snapshot does not carry per key; hidden where no one counts them (the Worker view). */
  private readonly localStats: HTMLElement[]

  /** `extra` holds view-specific parts (buttons, traffic controls) appended at the bottom. */
  constructor(readonly key: string, ...extra: Node[]) {
    const titleId = `card-${cssId(key)}`
    this.stateText = h('span', { class: 'state-text', 'data-role': 'state' }, STATE_LABELS.closed)
    this.probe = h('p', { class: 'probe', 'data-role': 'next-probe' })
    this.probe.hidden = true
    this.spark = h('div', { class: 'spark', role: 'img', 'aria-label': `Failure rate of ${key} over the last two minutes; shaded where the breaker was not closed` })
    const stat = (name: string, label: string, title: string) => {
      const value = h('dd', { 'data-stat': name }, '—')
      this.stats[name] = value
      return h('div', { title }, h('dt', {}, label), value)
    }
    this.localStats = [stat('calls', 'Calls', 'Calls made to this endpoint since the page loaded'), stat('fallbacks', 'Fallbacks', 'Last-known-good copies served'), stat('retries', 'Retries', 'Attempts after the first')]
    this.bulkheadMeter = h('meter', { min: '0', max: '1', value: '0', 'aria-label': 'active' })
    this.bulkheadQueue = h('meter', { min: '0', max: '1', value: '0', 'aria-label': 'queued' })
    this.bulkheadText = h('span', { 'data-stat': 'bulkhead' }, '—')
    this.element = h(
      'article',
      { class: 'card', 'data-breaker-key': key, 'data-state': 'closed', 'aria-labelledby': titleId },
      // Proxy keys are origins; the scheme adds width, not information.
      h('header', {}, h('h3', { id: titleId, title: key }, key.replace(/^https?:\/\//, '')), this.stateText),
      this.probe,
      this.spark,
      h(
        'dl',
        { class: 'stats' },
        stat('failure-rate', 'Failure rate', 'Failures / attempts in the breaker window'),
        stat('window', 'Window', 'Failed / all attempts in the breaker window'),
        stat('rejected', 'Rejected', 'Attempts refused by the breaker + by the bulkhead'),
        ...this.localStats,
      ),
      h('div', { class: 'bulkhead' }, h('span', { class: 'label' }, 'Bulkhead'), this.bulkheadMeter, this.bulkheadQueue, this.bulkheadText),
      ...extra,
    )
  }

  get state(): BreakerState {
    return this.element.dataset.state as BreakerState
  }

  /** Moves the state at once (from a statechange event), ahead of the next full update. */
  setState(state: BreakerState): void {
    if (this.element.dataset.state === state) return
    this.element.dataset.state = state
    this.stateText.textContent = STATE_LABELS[state] ?? state
  }

  update(model: CardModel): void {
    const { breaker, bulkhead, counters } = model
    this.setState(breaker?.state ?? 'closed')
    const probing = model.nextProbeIn !== undefined
    this.probe.hidden = !probing && breaker?.state !== 'half-open'
    this.probe.textContent = probing
      ? `next probe in ${duration(model.nextProbeIn!)}`
      : breaker?.state === 'half-open'
        ? 'probing…'
        : ''
    this.spark.innerHTML = sparklineMarkup(model.history, model.now)
    this.stats['failure-rate'].textContent = breaker ? percent(breaker.failureRate) : '—'
    this.stats.window.textContent = breaker ? `${count(breaker.failures)} / ${count(breaker.calls)}` : '—'
    for (const element of this.localStats) element.hidden = counters === undefined
    this.stats.calls.textContent = count(counters?.calls)
    this.stats.rejected.textContent = breaker || bulkhead ? count((breaker?.rejected ?? 0) + (bulkhead?.rejected ?? 0)) : '—'
    this.stats.fallbacks.textContent = count(counters?.fallbacks)
    this.stats.retries.textContent = count(counters?.retries)
    if (bulkhead) {
      this.bulkheadMeter.max = Math.max(1, bulkhead.maxConcurrent)
      this.bulkheadMeter.value = bulkhead.active
      this.bulkheadQueue.max = Math.max(1, bulkhead.maxQueue)
      this.bulkheadQueue.value = bulkhead.queued
      this.bulkheadQueue.hidden = bulkhead.maxQueue === 0
      this.bulkheadText.textContent =
        `${bulkhead.active}/${bulkhead.maxConcurrent} active` + (bulkhead.maxQueue > 0 ? ` · ${bulkhead.queued}/${bulkhead.maxQueue} queued` : '')
    } else {
      this.bulkheadText.textContent = 'off'
    }
  }
}

/** Keeps one card per key in a container, in first-seen order. */
export class CardGrid {
  private readonly cards = new Map<string, BreakerCard>()

  constructor(
    readonly element: HTMLElement,
    private readonly createCard: (key: string) => BreakerCard = (key) => new BreakerCard(key),
  ) {}

  card(key: string): BreakerCard {
    let card = this.cards.get(key)
    if (!card) {
      card = this.createCard(key)
      this.cards.set(key, card)
      this.element.append(card.element)
    }
    return card
  }

  /** Drops cards whose key is no longer reported (a remote LRU may forget keys). */
  retain(keys: Set<string>): void {
    for (const [key, card] of this.cards) {
      if (keys.has(key)) continue
      card.element.remove()
      this.cards.delete(key)
    }
  }

  clear(): void {
    this.retain(new Set())
  }
}

/** Turns a key (often an origin URL) into something safe inside an id attribute. */
function cssId(key: string): string {
  return key.replace(/[^a-zA-Z0-9_-]/g, '_')
}
