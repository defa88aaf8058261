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
  /** Attempt latency to headers; undefined where the source does not report it. */
  latency?: LatencySummary
  /** Per-key figures only a local instance can count from its events; undefined hides them. */
  counters?: Partial<Record<LocalCounter, number>>
  /** Traffic of this key; undefined hides it. */
  rate?: RateFigure
  /** ms until a probe may run, already corrected for the source's clock; only while open. */
  nextProbeIn?: number
  history: readonly Sample[]
  now: number
}

/** The latency fields of a snapshot's `latencies` entry that a card shows. */
export interface LatencySummary {
  samples: number
  p50: number
  p99: number
  /** Attempts recorded since the key was created; missing from older sources. */
  count?: number
}

/** A key's traffic: per second over the last few seconds, and in all. */
export interface RateFigure {
  /** Undefined until the rate has a few seconds of history. */
  perSecond: number | undefined
  total: number
  /** What is counted: the simulation counts the calls it makes, a proxy reports attempts. */
  of: 'calls' | 'attempts'
}

const RATE_TITLES: Record<RateFigure['of'], string> = {
  calls: 'Calls per second over the last 5 s; below it, all calls since the page loaded',
  attempts: 'Attempts per second to this upstream over the last 5 s; below it, all attempts since the proxy saw this key',
}

/** Per-key counts a view makes from the events it hears; each shows only where the view counts it. */
export type LocalCounter = 'fallbacks' | 'retries' | 'hedges'

export interface CardOptions {
  /** What the breaker's window is, said beside its failure figure: "last 10 s". */
  window: string
  /** View-specific parts (buttons, traffic controls) appended at the bottom. */
  extra?: Node[]
}

export class BreakerCard {
  readonly element: HTMLElement
  private readonly stateText: HTMLElement
  private readonly probe: HTMLElement
  private readonly staleNotice: HTMLElement
  private readonly spark: HTMLElement
  private readonly stats: Record<string, HTMLElement> = {}
  private readonly bulkheadMeter: HTMLMeterElement
  private readonly bulkheadText: HTMLElement
  private readonly bulkheadQueue: HTMLMeterElement
  private readonly rateCell: HTMLElement
  private readonly rateUnit: HTMLElement
  /** Figures a snapshot does not carry per key; hidden where no one counts them (the Worker view). */
  private readonly localStats: Record<LocalCounter, HTMLElement>

  constructor(readonly key: string, options: CardOptions) {
    const titleId = `card-${cssId(key)}`
    this.stateText = h('span', { class: 'state-text', 'data-role': 'state' }, STATE_LABELS.closed)
    // Always there, empty while closed, so every card keeps the same height and the grid stays aligned.
    this.probe = h('p', { class: 'probe', 'data-role': 'next-probe' })
    this.staleNotice = h('p', { class: 'stale-notice', 'data-role': 'stale' })
    this.staleNotice.hidden = true
    this.spark = h('div', { class: 'spark', role: 'img', 'aria-label': `Failure rate of ${key} over the last two minutes; shaded where the breaker was not closed` })
    this.rateCell = this.stat('rate', 'Rate', RATE_TITLES.calls)
    this.stats.calls = h('span', { 'data-stat': 'calls' }, '—')
    this.rateUnit = h('span', {}, ' calls')
    this.rateCell.querySelector('dd')!.append(h('span', { class: 'sub' }, this.stats.calls, this.rateUnit))
    this.localStats = {
      hedges: this.stat('hedges', 'Hedges', 'Hedge attempts started: a second attempt after a slow first one'),
      retries: this.stat('retries', 'Retries', 'Retries scheduled (retry events), those an open breaker or a full bulkhead then refused included; the Retries above the cards counts only those sent'),
      fallbacks: this.stat('fallbacks', 'Fallbacks', 'Last-known-good copies served since this page started counting'),
    }
    const { hedges, retries, fallbacks } = this.localStats
    const failed = this.stat('failure-rate', `Failed, ${options.window}`, `Failed attempts / all attempts in the breaker's window (${options.window}); an open breaker sends none, so this lags the error rate`)
    failed.classList.add('wide')
    this.stats.window = h('span', { class: 'sub', 'data-stat': 'window' }, '—')
    failed.querySelector('dd')!.append(this.stats.window)
    this.bulkheadMeter = h('meter', { min: '0', max: '1', value: '0', 'aria-label': 'active' })
    this.bulkheadQueue = h('meter', { min: '0', max: '1', value: '0', 'aria-label': 'queued' })
    this.bulkheadText = h('span', { 'data-stat': 'bulkhead' }, '—')
    this.element = h(
      'article',
      { class: 'card', 'data-breaker-key': key, 'data-state': 'closed', 'aria-labelledby': titleId },
      // Proxy keys are origins; the scheme adds width, not information.
      h('header', {}, h('h3', { id: titleId, title: key }, key.replace(/^https?:\/\//, '')), this.stateText),
      this.probe,
      this.staleNotice,
      this.spark,
      h('p', { class: 'spark-legend', 'aria-hidden': 'true' }, h('span', {}, 'failure rate, last 2 min'), h('span', {}, 'now')),
      h(
        'dl',
        { class: 'stats' },
        failed,
        this.rateCell,
        this.stat('p50', 'p50', 'Median attempt latency to response headers', 'row-start'),
        this.stat('p99', 'p99', '99th percentile attempt latency to response headers'),
        hedges,
        this.stat('rejected', 'Rejected', 'Attempts refused by the breaker + by the bulkhead', 'row-start'),
        retries,
        fallbacks,
      ),
      h('div', { class: 'bulkhead' }, h('span', { class: 'label' }, 'Bulkhead'), this.bulkheadMeter, this.bulkheadQueue, this.bulkheadText),
      ...(options.extra ?? []),
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

  /** Marks the figures as old (the source went away) with a reason, or live again with undefined. */
  setStale(reason: string | undefined): void {
    this.element.toggleAttribute('data-stale', reason !== undefined)
    this.staleNotice.hidden = reason === undefined
    this.staleNotice.textContent = reason ?? ''
    this.probe.hidden = reason !== undefined
  }

  get stale(): boolean {
    return this.element.hasAttribute('data-stale')
  }

  update(model: CardModel): void {
    const { breaker, counters } = model
    this.setState(breaker?.state ?? 'closed')
    this.setStale(undefined)
    const probing = model.nextProbeIn !== undefined
    this.probe.textContent = probing ? `next probe in ${duration(model.nextProbeIn!)}` : breaker?.state === 'half-open' ? 'probing…' : ''
    this.spark.innerHTML = sparklineMarkup(model.history, model.now)
    this.stats['failure-rate'].textContent = breaker && breaker.calls > 0 ? percent(breaker.failureRate) : '—'
    this.stats.window.textContent = attemptsText(breaker)
    const latency = model.latency && model.latency.samples > 0 ? model.latency : undefined
    this.stats.p50.textContent = latency ? duration(latency.p50) : '—'
    this.stats.p99.textContent = latency ? duration(latency.p99) : '—'
    this.updateRate(model.rate)
    this.stats.rejected.textContent = breaker || model.bulkhead ? count((breaker?.rejected ?? 0) + (model.bulkhead?.rejected ?? 0)) : '—'
    for (const [name, element] of Object.entries(this.localStats) as [LocalCounter, HTMLElement][]) {
      element.hidden = counters?.[name] === undefined
      this.stats[name].textContent = count(counters?.[name])
    }
    this.updateBulkhead(model.bulkhead)
  }

  private updateRate(rate: RateFigure | undefined): void {
    this.rateCell.hidden = rate === undefined
    if (!rate) return
    this.rateCell.title = RATE_TITLES[rate.of]
    this.stats.rate.textContent = rate.perSecond === undefined ? '—' : `${rate.perSecond.toFixed(1)} /s`
    this.stats.calls.textContent = count(rate.total)
    this.rateUnit.textContent = ` ${rate.of}`
  }

  private updateBulkhead(bulkhead: BulkheadSnapshot | undefined): void {
    if (!bulkhead) {
      this.bulkheadText.textContent = 'off'
      return
    }
    this.bulkheadMeter.max = Math.max(1, bulkhead.maxConcurrent)
    this.bulkheadMeter.value = bulkhead.active
    this.bulkheadQueue.max = Math.max(1, bulkhead.maxQueue)
    this.bulkheadQueue.value = bulkhead.queued
    this.bulkheadQueue.hidden = bulkhead.maxQueue === 0
    this.bulkheadText.textContent = `${bulkhead.active}/${bulkhead.maxConcurrent} active` + (bulkhead.maxQueue > 0 ? ` · ${bulkhead.queued}/${bulkhead.maxQueue} queued` : '')
  }

  /** A labelled figure: a div with dt and dd; the value's span is kept under `name` for updates. */
  private stat(name: string, label: string, title: string, className = ''): HTMLElement {
    const value = h('span', { 'data-stat': name }, '—')
    this.stats[name] = value
    return h('div', { title, class: className }, h('dt', {}, label), h('dd', {}, value))
  }
}

/** Keeps one card per key in a container, in first-seen order. */
export class CardGrid {
  private readonly cards = new Map<string, BreakerCard>()

  constructor(
    readonly element: HTMLElement,
    private readonly createCard: (key: string) => BreakerCard,
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

  get all(): Iterable<BreakerCard> {
    return this.cards.values()
  }
}

/** What the failure figure is made of: "2 of 7 attempts", or why there are none. */
function attemptsText(breaker: BreakerSnapshot | undefined): string {
  if (breaker && breaker.calls > 0) return `${count(breaker.failures)} of ${count(breaker.calls)} attempts`
  return breaker?.state === 'open' || breaker?.state === 'forced-open' ? 'none sent while open' : 'no attempts'
}

/** Turns a key (often an origin URL) into something safe inside an id attribute. */
function cssId(key: string): string {
  return key.replace(/[^a-zA-Z0-9_-]/g, '_')
}
