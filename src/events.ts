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
export class Events extends EventTarget {
  #heard = new Set<string>()

  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: AddEventListenerOptions | boolean): void {
    this.#heard.add(type)
    super.addEventListener(type, listener, options)
  }

  wants(type: ResilienceEventType): boolean {
    return this.#heard.has(type)
  }

  emit<T extends ResilienceEventType>(type: T, detail: ResilienceEventMap[T]): void {
    if (this.#heard.has(type)) this.dispatchEvent(new CustomEventImpl(type, { detail }))
  }
}
