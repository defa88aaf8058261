import type { ResilienceEventMap, ResilienceEventType } from './types.js'

// CustomEvent is global from Node 19; a minimal stand-in keeps Node 18 working.
const CustomEventImpl: typeof CustomEvent =
  globalThis.CustomEvent ??
  (class<T> extends Event {
    readonly detail: T
    constructor(type: string, init?: CustomEventInit<T>) {
      super(type, init)
      this.detail = init?.detail as T
    }
  } as unknown as typeof CustomEvent)

/**
 * An EventTarget that builds an event only for types someone has listened to:
 * a call pays nothing for events nobody reads.
 */
export class Events {
  private readonly target = new EventTarget()
  private readonly heard = new Set<string>()

  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: AddEventListenerOptions | boolean): void {
    this.heard.add(type)
    this.target.addEventListener(type, listener, options)
  }

  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: EventListenerOptions | boolean): void {
    this.target.removeEventListener(type, listener, options)
  }

  wants(type: ResilienceEventType): boolean {
    return this.heard.has(type)
  }

  emit<T extends ResilienceEventType>(type: T, detail: ResilienceEventMap[T]): void {
    if (this.heard.has(type)) this.target.dispatchEvent(new CustomEventImpl(type, { detail }))
  }
}
