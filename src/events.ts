import type { ResilienceEventMap, ResilienceEventType } from './types.js'

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
    // A CustomEvent; where there is none (Node 18), an Event with the same own `detail`.
    if (this.#heard.has(type)) this.dispatchEvent(globalThis.CustomEvent ? new CustomEvent(type, { detail }) : Object.assign(new Event(type), { detail }))
  }
}
